"""Word tables the normalizers look words up in (all lower case, accent-free, punctuation-free).

Kept apart from the code so a steward or a reviewer can read and extend them without
reading regular expressions. The tables are general US business vocabulary, not the
sandbox generator's word lists, so matching quality measured on generated data says
something about real data too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# -- names ----------------------------------------------------------------------------------

#: Legal forms after in-word dots are gone ("L.L.C." -> "llc"); dropped from the end of a name.
LEGAL_SUFFIXES: Final = frozenset(
    {
        "inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company",
        "llp", "pc", "plc", "lp", "pllc", "pa",
    }
)

#: Words that make a name a business's, not a person's ("Lopez Consulting", "Maria's Flower Shop").
#: Words that are also common surnames (House, Glass, Church, Flowers) are left out on purpose.
BUSINESS_WORDS: Final = frozenset(
    """
    academy accountants accounting advisors advisory agency allied analytics architects attorney attorneys
    architecture associates association auto automotive bakery bancorp bank bar bike bikes
    biotech book books boutique brewery brewing builders cafe camera capital catering cellars center
    centre cleaners cleaning clinic club coffee college communications construction consultancy
    consultants consulting contracting contractors coop corporate council creative cycle cycles
    dental dentistry depot design designers designs development developers digital distribution
    distributors electric electrical emporium energy engineering engineers enterprise enterprises
    environmental estates exports farm farms finance financial firm fitness florist flower food foods
    foundation frame framing freight fund funding furniture gallery garage garden gardens global grill
    group gym hardware health healthcare holdings homes hospitality hotel imports industries inn
    institute insurance interiors international investment investments jewelers jewelry kitchen
    kitchens lab laboratory labs landscape landscaping law lawyers legal lending logistics management
    manufacturing market marketing markets media medical mortgage motel motors movers moving music
    network networks optical outdoor outdoors outfitters paint painting partners partnership pet
    pets pharmacy plumbing pool pools power print printing productions products properties
    property pub ranch realty rentals repair repairs restaurant retail roofing salon school
    security service services shipping shop shoppe society software solar solutions spa staffing
    storage store stores studio studios supplies supply surf surveyors systems tech technologies
    technology tile tiles toy toys trading transport transportation trust university ventures
    vineyards wholesale windsurf wine winery wines works yoga
    """.split()
)

#: Words that open business names but are not given names ("Golden Peak", "Pacific Harbor").
#: Only the first word of a would-be person name is checked: Green, West, Little are surnames.
DESCRIPTIVE_WORDS: Final = frozenset(
    """
    advanced allied alpine american apex atlantic bay best big blue bold bright cedar central city
    classic clear coastal copper county creative crescent digital east eastern elite evergreen
    express first golden grand granite great green harbor integrated iron liberty little lone
    maple mesa metro modern mountain national new north northern oak ocean old open pacific peak
    pine pinnacle precision premier prime quality rapid red redwood river royal sea silver smart
    south southern standard strategic summit sunrise sunset superior swift true unified union
    united urban valley west western willow
    """.split()
)

#: Courtesy titles and post-nominals: not part of the given or family name.
PERSON_TITLES: Final = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev", "sir", "madam"})
PERSON_SUFFIXES: Final = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq", "cpa", "dds", "rn"})
#: Surname particles that belong to the family name ("Ludwig van Beethoven" -> "van beethoven").
SURNAME_PARTICLES: Final = frozenset(
    {"van", "von", "de", "del", "della", "der", "den", "da", "di", "du", "la", "le", "dos", "das", "st"}
)

#: Common English nicknames to the given name they stand for. Only unambiguous ones: Pat, Sam,
#: Alex, Chris, Jess, Jo, Nicky... could be either of two names and are left alone.
NICKNAMES: Final[Mapping[str, str]] = {
    "bill": "william", "billy": "william", "will": "william", "willy": "william",
    "bob": "robert", "bobby": "robert", "rob": "robert", "robbie": "robert",
    "rick": "richard", "ricky": "richard", "dick": "richard", "rich": "richard",
    "jim": "james", "jimmy": "james", "jamie": "james",
    "mike": "michael", "mikey": "michael",
    "liz": "elizabeth", "beth": "elizabeth", "betty": "elizabeth", "lizzie": "elizabeth",
    "kate": "katherine", "katie": "katherine", "kathy": "katherine",
    "peggy": "margaret", "maggie": "margaret", "meg": "margaret",
    "tom": "thomas", "tommy": "thomas",
    "joe": "joseph", "joey": "joseph",
    "matt": "matthew",
    "tony": "anthony",
    "steve": "steven",
    "ben": "benjamin",
    "becky": "rebecca",
    "ed": "edward", "eddie": "edward", "ted": "edward",
    "tim": "timothy",
    "andy": "andrew", "drew": "andrew",
    "jon": "jonathan",
    "deb": "deborah", "debbie": "deborah",
    "sue": "susan", "susie": "susan",
    "dave": "david",
    "greg": "gregory",
    "jeff": "jeffrey",
    "larry": "lawrence",
    "ron": "ronald", "ronnie": "ronald",
    "don": "donald", "donnie": "donald",
    "ken": "kenneth", "kenny": "kenneth",
    "chuck": "charles", "charlie": "charles",
    "hank": "henry",
    "jack": "john", "johnny": "john",
    "nate": "nathan",
    "pete": "peter",
    "phil": "philip",
    "ray": "raymond",
    "walt": "walter",
    "wes": "wesley",
    "zach": "zachary",
    "cindy": "cynthia",
    "patty": "patricia", "trish": "patricia",
    "jen": "jennifer", "jenny": "jennifer",
    "barb": "barbara",
    "vicky": "victoria",
    "mandy": "amanda",
    "abby": "abigail",
}

# -- email ----------------------------------------------------------------------------------

#: Mail providers anyone can sign up with (and ISP mailboxes): the domain says nothing about a company.
FREE_MAIL_DOMAINS: Final = frozenset(
    {
        "gmail.com", "googlemail.com",
        "yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "yahoo.ca",
        "hotmail.com", "outlook.com", "live.com", "msn.com", "passport.com",
        "aol.com", "aim.com",
        "icloud.com", "me.com", "mac.com",
        "proton.me", "protonmail.com", "pm.me",
        "gmx.com", "gmx.net", "mail.com", "zoho.com", "zohomail.com", "yandex.com", "fastmail.com",
        "hey.com", "tutanota.com", "hushmail.com", "inbox.com",
        "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net",
        "charter.net", "earthlink.net", "optonline.net", "frontier.com", "windstream.net",
        "juno.com", "netzero.net", "roadrunner.com", "rr.com", "centurylink.net", "q.com",
    }
)

# -- postal addresses -----------------------------------------------------------------------

#: USPS Publication 28 street suffixes (the common ones), every spelling -> the standard abbreviation.
STREET_TYPES: Final[Mapping[str, str]] = {
    "street": "st", "str": "st", "st": "st",
    "avenue": "ave", "av": "ave", "ave": "ave", "aven": "ave", "avenu": "ave", "avn": "ave",
    "road": "rd", "rd": "rd",
    "drive": "dr", "drv": "dr", "dr": "dr",
    "boulevard": "blvd", "boul": "blvd", "blvd": "blvd",
    "lane": "ln", "ln": "ln",
    "court": "ct", "crt": "ct", "ct": "ct",
    "place": "pl", "pl": "pl",
    "parkway": "pkwy", "pkway": "pkwy", "pky": "pkwy", "pkwy": "pkwy",
    "circle": "cir", "circ": "cir", "crcl": "cir", "cir": "cir",
    "terrace": "ter", "terr": "ter", "ter": "ter",
    "highway": "hwy", "hiway": "hwy", "hwy": "hwy",
    "trail": "trl", "trl": "trl",
    "square": "sq", "sq": "sq",
    "plaza": "plz", "plz": "plz",
    "expressway": "expy", "expy": "expy",
    "freeway": "fwy", "fwy": "fwy",
    "alley": "aly", "aly": "aly",
    "crossing": "xing", "xing": "xing",
    "heights": "hts", "hts": "hts",
    "center": "ctr", "centre": "ctr", "ctr": "ctr",
    "route": "rte", "rte": "rte",
    "turnpike": "tpke", "tpke": "tpke",
    "point": "pt", "pt": "pt",
    "ridge": "rdg", "rdg": "rdg",
    "mount": "mt", "mt": "mt",
}

DIRECTIONALS: Final[Mapping[str, str]] = {
    "north": "n", "south": "s", "east": "e", "west": "w",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}

ORDINALS: Final[Mapping[str, str]] = {
    "first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th",
    "sixth": "6th", "seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th",
    "eleventh": "11th", "twelfth": "12th", "thirteenth": "13th", "fourteenth": "14th",
    "fifteenth": "15th", "sixteenth": "16th", "seventeenth": "17th", "eighteenth": "18th",
    "nineteenth": "19th", "twentieth": "20th",
}

#: Every word of a street line that has a standard short form.
STREET_WORDS: Final[Mapping[str, str]] = {**STREET_TYPES, **DIRECTIONALS, **ORDINALS}

#: Secondary unit designators (USPS Pub 28 appendix C2) that start the unit part of a line.
UNIT_DESIGNATORS: Final = frozenset(
    {
        "suite", "ste", "unit", "apt", "apartment", "fl", "floor", "flr", "bldg", "building",
        "rm", "room", "dept", "department", "spc", "space", "trlr", "lot", "#",
    }
)

#: City-name abbreviations read as their words ("St. Paul" = "Saint Paul").
CITY_WORDS: Final[Mapping[str, str]] = {"st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount", "pt": "point"}

#: US states, DC, territories and military "states" by code.
STATE_CODES: Final = frozenset(
    """
    AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM
    NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP AA AE AP
    """.split()
)

#: State names and the AP-style abbreviations people type ("Calif.", "N.Y.") -> code.
STATE_NAMES: Final[Mapping[str, str]] = {
    "alabama": "AL", "ala": "AL", "alaska": "AK", "arizona": "AZ", "ariz": "AZ",
    "arkansas": "AR", "ark": "AR", "california": "CA", "calif": "CA", "cal": "CA",
    "colorado": "CO", "colo": "CO", "connecticut": "CT", "conn": "CT", "delaware": "DE",
    "del": "DE", "florida": "FL", "fla": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID",
    "illinois": "IL", "ill": "IL", "indiana": "IN", "ind": "IN", "iowa": "IA", "kansas": "KS",
    "kan": "KS", "kans": "KS", "kentucky": "KY", "louisiana": "LA", "maine": "ME",
    "maryland": "MD", "massachusetts": "MA", "mass": "MA", "michigan": "MI", "mich": "MI",
    "minnesota": "MN", "minn": "MN", "mississippi": "MS", "miss": "MS", "missouri": "MO",
    "montana": "MT", "mont": "MT", "nebraska": "NE", "neb": "NE", "nebr": "NE", "nevada": "NV",
    "nev": "NV", "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "okla": "OK",
    "oregon": "OR", "ore": "OR", "oreg": "OR", "pennsylvania": "PA", "penn": "PA", "penna": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "tenn": "TN", "texas": "TX", "tex": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "wash": "WA", "west virginia": "WV", "w va": "WV", "wisconsin": "WI",
    "wis": "WI", "wisc": "WI", "wyoming": "WY", "wyo": "WY",
    "district of columbia": "DC", "washington dc": "DC", "washington d c": "DC", "d c": "DC",
    "puerto rico": "PR", "guam": "GU", "virgin islands": "VI", "us virgin islands": "VI",
    "american samoa": "AS", "northern mariana islands": "MP",
}

#: States whose ZIP codes start with 0: a 4-digit code there is one that lost its leading zero
#: (a spreadsheet read it as a number). Elsewhere a 4-digit code is just wrong.
ZERO_ZIP_STATES: Final = frozenset({"CT", "MA", "ME", "NH", "NJ", "RI", "VT", "PR", "VI", "AE"})

#: How the United States is written in a country field.
US_COUNTRY_NAMES: Final = frozenset(
    {"us", "usa", "u s", "u s a", "united states", "united states of america", "america"}
)
