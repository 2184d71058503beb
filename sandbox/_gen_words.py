"""Word lists the sandbox generator draws from.

Person names come from faker's en_US lists (large, realistic, fixed per faker
version); everything that shapes the business (company name parts, cities,
projects, services, staff) is written out here so the data looks like the
customers of a US professional-services firm (seed 003) and stays stable.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from faker.providers.person.en_US import Provider as _PersonProvider

# faker keeps weighted OrderedDicts; only the names matter here, in a fixed order.
FIRST_NAMES: Final[tuple[str, ...]] = tuple(
    dict.fromkeys([*_PersonProvider.first_names_female, *_PersonProvider.first_names_male])
)
LAST_NAMES: Final[tuple[str, ...]] = tuple(_PersonProvider.last_names)

# Nicknames people (and sales reps) use instead of the legal given name.
NICKNAMES: Final[dict[str, str]] = {
    "William": "Bill", "Robert": "Bob", "Richard": "Rick", "James": "Jim", "Michael": "Mike",
    "Elizabeth": "Liz", "Jennifer": "Jen", "Katherine": "Kate", "Margaret": "Peggy",
    "Thomas": "Tom", "Joseph": "Joe", "Daniel": "Dan", "Christopher": "Chris", "Matthew": "Matt",
    "Anthony": "Tony", "Steven": "Steve", "Jessica": "Jess", "Patricia": "Pat", "Samantha": "Sam",
    "Nicholas": "Nick", "Alexander": "Alex", "Benjamin": "Ben", "Rebecca": "Becky", "Edward": "Ed",
    "Timothy": "Tim", "Andrew": "Andy", "Jonathan": "Jon", "Deborah": "Deb", "Susan": "Sue",
}

TRADES: Final[tuple[str, ...]] = (
    "Windsurf", "Surf", "Bike", "Coffee", "Flower", "Pet", "Auto", "Tile", "Print", "Frame",
    "Garden", "Wine", "Bakery", "Dental", "Yoga", "Music", "Camera", "Furniture", "Outdoor",
    "Kitchen", "Cycle", "Paint", "Glass", "Hardware", "Book", "Toy", "Jewelry", "Optical",
    "Pool", "Roofing", "Plumbing", "Electric", "Landscape", "Catering", "Brewing", "Fitness",
)
PLACES: Final[tuple[str, ...]] = (
    "Shop", "Store", "Studio", "Supply", "Works", "Center", "Company", "House", "Outfitters",
    "Emporium", "Gallery", "Depot", "Market", "Co-op", "Service", "Clinic", "Lab",
)
ADJECTIVES: Final[tuple[str, ...]] = (
    "Blue", "Golden", "Silver", "Red", "Green", "Granite", "Coastal", "Summit", "Pacific",
    "Northern", "Evergreen", "Bright", "Clear", "Iron", "Cedar", "Redwood", "Harbor", "Sierra",
    "Lone", "True", "Prime", "Open", "Swift", "Bold", "First", "Union", "Liberty", "Crescent",
    "Copper", "Oak", "Pine", "Maple", "Willow", "Sunrise", "Sunset", "Bay", "Valley", "Mesa",
)
NATURE: Final[tuple[str, ...]] = (
    "Harbor", "Peak", "Ridge", "River", "Lake", "Creek", "Point", "Bridge", "Canyon", "Meadow",
    "Stone", "Oak", "Pine", "Wave", "Tide", "Sky", "Field", "Grove", "Hill", "Rock", "Falls",
    "Trail", "Mountain", "Star", "Sun", "Light", "Path", "Anchor", "Compass", "Arrow",
)
INDUSTRIES: Final[tuple[str, ...]] = (
    "Consulting", "Logistics", "Dental", "Realty", "Construction", "Engineering", "Design",
    "Media", "Marketing", "Capital", "Health", "Foods", "Analytics", "Software", "Systems",
    "Manufacturing", "Medical", "Insurance", "Advisors", "Partners", "Properties", "Energy",
    "Labs", "Technologies", "Solutions", "Ventures", "Distribution", "Biotech", "Legal",
    "Staffing", "Hospitality", "Transport", "Environmental", "Architecture", "Interiors",
)
PROFESSIONS: Final[tuple[str, ...]] = (
    "Architects", "Associates", "Accountants", "Attorneys", "Engineers", "Builders",
    "Consultants", "Partners", "Advisors", "Surveyors", "Designers",
)
GROUP_WORDS: Final[tuple[str, ...]] = ("Group", "Holdings", "Enterprises", "Industries", "Company")
LEGAL_SUFFIXES: Final[tuple[str, ...]] = ("Inc.", "LLC", "Corp.", "Co.", "Ltd.", "LLP", "PC")
# Spellings of the same legal form that people type interchangeably.
LEGAL_SPELLINGS: Final[dict[str, tuple[str, ...]]] = {
    "Inc.": ("Inc", ", Inc.", "Incorporated", "INC"),
    "LLC": ("L.L.C.", ", LLC", "Llc"),
    "Corp.": ("Corp", "Corporation", ", Corp."),
    "Co.": ("Co", "Company"),
    "Ltd.": ("Ltd", "Limited"),
    "LLP": ("L.L.P.", ", LLP"),
    "PC": ("P.C.", ", PC"),
}

STREET_NAMES: Final[tuple[str, ...]] = (
    "Ocean", "Main", "Oak", "Maple", "Park", "Washington", "Lake", "Hill", "Pine", "Cedar",
    "Elm", "Mission", "Market", "Valencia", "Broadway", "Sunset", "Highland", "Lincoln",
    "Jackson", "Franklin", "Jefferson", "Madison", "Church", "Spring", "Center", "River",
    "Mill", "Forest", "Meadow", "Willow", "Sycamore", "Walnut", "Chestnut", "Cherry",
    "Harbor", "Bay", "Shoreline", "Canyon", "Mesa", "Vista", "El Camino", "Alameda",
    "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Ninth", "Tenth",
    "Railroad", "Industrial", "Commerce", "Enterprise", "Technology", "University", "College",
)
# (full word, usual abbreviation)
STREET_TYPES: Final[tuple[tuple[str, str], ...]] = (
    ("Street", "St."), ("Avenue", "Ave."), ("Boulevard", "Blvd."), ("Drive", "Dr."),
    ("Road", "Rd."), ("Lane", "Ln."), ("Court", "Ct."), ("Way", "Way"), ("Place", "Pl."),
    ("Parkway", "Pkwy."), ("Circle", "Cir."), ("Terrace", "Ter."), ("Highway", "Hwy."),
)
# (full word, abbreviation) of the second address line.
UNIT_TYPES: Final[tuple[tuple[str, str], ...]] = (
    ("Suite", "Ste"), ("Suite", "Ste."), ("Unit", "Unit"), ("Floor", "Fl"), ("Building", "Bldg"),
    ("Apartment", "Apt"),
)
DIRECTIONS: Final[tuple[tuple[str, str], ...]] = (("North", "N"), ("South", "S"), ("East", "E"), ("West", "W"))


class City(NamedTuple):
    """A US city with the bits an address and a phone number need."""

    name: str
    state: str
    zip_prefix: str
    area_codes: tuple[str, ...]


# The firm sits in the Bay Area, so most customers are Californian.
CITIES: Final[tuple[City, ...]] = (
    City("Half Moon Bay", "CA", "940", ("650",)),
    City("San Francisco", "CA", "941", ("415", "628")),
    City("Oakland", "CA", "946", ("510", "341")),
    City("San Jose", "CA", "951", ("408", "669")),
    City("Palo Alto", "CA", "943", ("650",)),
    City("Redwood City", "CA", "940", ("650",)),
    City("Berkeley", "CA", "947", ("510",)),
    City("Santa Cruz", "CA", "950", ("831",)),
    City("Sacramento", "CA", "958", ("916", "279")),
    City("Walnut Creek", "CA", "945", ("925",)),
    City("Fremont", "CA", "945", ("510",)),
    City("San Mateo", "CA", "944", ("650",)),
    City("Santa Rosa", "CA", "954", ("707",)),
    City("Monterey", "CA", "939", ("831",)),
    City("Los Angeles", "CA", "900", ("213", "310", "323")),
    City("San Diego", "CA", "921", ("619", "858")),
    City("Fresno", "CA", "937", ("559",)),
    City("Portland", "OR", "972", ("503", "971")),
    City("Eugene", "OR", "974", ("541",)),
    City("Seattle", "WA", "981", ("206",)),
    City("Tacoma", "WA", "984", ("253",)),
    City("Bellevue", "WA", "980", ("425",)),
    City("Reno", "NV", "895", ("775",)),
    City("Las Vegas", "NV", "891", ("702",)),
    City("Phoenix", "AZ", "850", ("602", "480")),
    City("Tucson", "AZ", "857", ("520",)),
    City("Denver", "CO", "802", ("303", "720")),
    City("Boulder", "CO", "803", ("303",)),
    City("Salt Lake City", "UT", "841", ("801",)),
    City("Boise", "ID", "837", ("208",)),
    City("Austin", "TX", "787", ("512", "737")),
    City("Dallas", "TX", "752", ("214", "469")),
    City("Houston", "TX", "770", ("713", "281")),
    City("Chicago", "IL", "606", ("312", "773")),
    City("Minneapolis", "MN", "554", ("612",)),
    City("New York", "NY", "100", ("212", "646")),
    City("Brooklyn", "NY", "112", ("718", "347")),
    City("Boston", "MA", "021", ("617", "857")),
    City("Atlanta", "GA", "303", ("404", "678")),
    City("Miami", "FL", "331", ("305", "786")),
    City("Nashville", "TN", "372", ("615",)),
    City("Raleigh", "NC", "276", ("919",)),
)
CITY_WEIGHTS: Final[tuple[int, ...]] = tuple(6 if c.state == "CA" else 2 for c in CITIES)

STATE_NAMES: Final[dict[str, str]] = {
    "CA": "California", "OR": "Oregon", "WA": "Washington", "NV": "Nevada", "AZ": "Arizona",
    "CO": "Colorado", "UT": "Utah", "ID": "Idaho", "TX": "Texas", "IL": "Illinois",
    "MN": "Minnesota", "NY": "New York", "MA": "Massachusetts", "GA": "Georgia", "FL": "Florida",
    "TN": "Tennessee", "NC": "North Carolina",
}

PERSONAL_MAIL_DOMAINS: Final[tuple[str, ...]] = (
    "gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com",
    "icloud.com", "aol.com", "comcast.net", "me.com",
)
COMPANY_TLDS: Final[tuple[str, ...]] = ("com", "com", "com", "com", "net", "co", "biz", "us", "io")
ROLE_MAILBOXES: Final[tuple[str, ...]] = ("info", "office", "hello", "contact", "admin", "team")
BILLING_MAILBOXES: Final[tuple[str, ...]] = ("billing", "accounts", "ap", "accounting", "invoices")


class StaffMember(NamedTuple):
    """Someone at the firm who appears as an author or an owner."""

    id: str
    name: str
    email: str


# SharePoint authors: sales (Mark is the VP of Sales of seed 003) and ops.
SHAREPOINT_USERS: Final[tuple[StaffMember, ...]] = (
    StaffMember("6", "Mark Matkowski", "mark@c360sandbox.onmicrosoft.com"),
    StaffMember("7", "Brenda Bates", "brenda@c360sandbox.onmicrosoft.com"),
    StaffMember("11", "Dana Whitfield", "dana@c360sandbox.onmicrosoft.com"),
    StaffMember("12", "Raj Patel", "raj@c360sandbox.onmicrosoft.com"),
    StaffMember("15", "Lucy Nguyen", "lucy@c360sandbox.onmicrosoft.com"),
    StaffMember("19", "Carlos Caballero", "carlos@c360sandbox.onmicrosoft.com"),
)
SHAREPOINT_AUTHOR_WEIGHTS: Final[tuple[int, ...]] = (5, 2, 4, 4, 3, 1)

# Teamwork project owners (Brenda Bates runs operations in seed 003).
TEAMWORK_STAFF: Final[tuple[tuple[int, str], ...]] = (
    (238860, "Brenda Bates"),
    (238861, "Omar Haddad"),
    (238864, "Grace Kim"),
    (238870, "Tyler Brooks"),
    (238873, "Priya Raman"),
    (238881, "Sean O'Connell"),
)

PROJECT_NAMES: Final[tuple[str, ...]] = (
    "Website refresh", "Brand strategy", "ERP rollout", "CRM implementation", "Cloud migration",
    "Office 365 migration", "Annual audit support", "Tax planning", "Marketing campaign",
    "Network upgrade", "Security assessment", "Data warehouse", "Mobile app", "E-commerce launch",
    "Process review", "Staff training", "Intranet build", "Managed services", "Support retainer",
    "Discovery workshop", "SEO program", "Payroll integration", "Inventory system", "Rebranding",
    "Cost reduction study", "Compliance review", "BI dashboards", "Helpdesk setup",
)

# (item name, QuickBooks item id, hourly or unit rates)
SERVICE_ITEMS: Final[tuple[tuple[str, str, tuple[float, ...]], ...]] = (
    ("Consulting", "1", (150.0, 175.0, 195.0)),
    ("Project management", "2", (125.0, 140.0)),
    ("Design", "3", (110.0, 135.0)),
    ("Development", "4", (145.0, 165.0, 185.0)),
    ("Training", "5", (95.0, 120.0)),
    ("Support retainer", "6", (500.0, 1000.0, 1500.0)),
    ("Travel", "7", (85.0, 240.0, 410.0)),
    ("Software license", "8", (49.0, 99.0, 299.0)),
)

DOCUMENT_KINDS: Final[dict[str, tuple[str, ...]]] = {
    "proposal": ("Proposal - {name}.docx", "{name} Proposal v{n}.docx", "Proposal_{name}.pdf"),
    "sow": ("SOW - {name} - {project}.docx", "Statement of Work - {name}.pdf"),
    "contract": ("Master Services Agreement - {name}.pdf", "Contract - {name} (signed).pdf"),
    "other": ("{name} - meeting notes.docx", "{name} pricing.xlsx", "{name} kickoff.pptx"),
}
MIME_TYPES: Final[dict[str, str]] = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
