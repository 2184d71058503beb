"""The exact-v1 matcher: normalization tables and clustering, including the giant-cluster guard."""

from __future__ import annotations

import random

import pytest

from connectors import SourceRecord, SystemName
from tests.support.fakes import make_record
from xref.matching import (
    RecordKeys,
    cluster_records,
    match_keys,
    normalize_email,
    normalize_name,
    normalize_phone,
    normalize_postal_code,
)

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("surf@example.com", "surf@example.com"),
        ("  Surf@Example.COM  ", "surf@example.com"),
        ("STRASSE@EXAMPLE.DE", "strasse@example.de"),
        ("", None),
        ("   ", None),
        (None, None),
        ("not-an-email", None),
        ("@example.com", None),
        ("a b@example.com", None),
    ],
)
def test_normalize_email(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(415) 444-6538", "+14154446538"),
        ("415-444-6538", "+14154446538"),
        ("415.444.6538", "+14154446538"),
        ("+1 415 444 6538", "+14154446538"),
        ("4154446538", "+14154446538"),
        ("1-415-444-6538", "+14154446538"),
        ("(415) 444-6538 x12", "+14154446538"),
        ("415-444-6538 ext. 301", "+14154446538"),
        ("+44 20 7946 0958", "+442079460958"),
        ("555-1234", None),
        ("12345", None),
        ("call me", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_phone_to_e164_with_us_default(raw: str | None, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_normalize_phone_reads_national_numbers_in_the_given_region() -> None:
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("020 7946 0958") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bill's Windsurf Shop", "bills windsurf shop"),
        ("BILLS WINDSURF SHOP", "bills windsurf shop"),
        ("Acme, Inc.", "acme"),
        ("Acme Incorporated", "acme"),
        ("Acme L.L.C.", "acme"),
        ("Acme Corp", "acme"),
        ("Acme Corporation", "acme"),
        ("Acme Co.", "acme"),
        ("Acme Company", "acme"),
        ("Acme Ltd", "acme"),
        ("Acme Co., Inc.", "acme"),
        ("The Acme Group", "acme group"),
        ("Smith & Jones", "smith and jones"),
        ("Smith + Jones LLP", "smith and jones"),
        ("Smith and Jones", "smith and jones"),
        ("  Smith   &  Jones  ", "smith and jones"),
        ("Café Zoë", "cafe zoe"),
        ("Coastal Co-op", "coastal co op"),
        ("Inc.", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_name(raw: str | None, expected: str | None) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("94213", "94213"), ("94213-1234", "94213"), (" 94213 ", "94213"), ("9421", None), ("SW1A 1AA", None), (None, None)],
)
def test_normalize_postal_code(raw: str | None, expected: str | None) -> None:
    assert normalize_postal_code(raw) == expected


def _keys(*records: SourceRecord) -> list[RecordKeys]:
    return [match_keys(r) for r in records]


def _clusters(*records: SourceRecord, max_key_group: int = 4) -> list[tuple[tuple[SystemName, str], ...]]:
    return [c.members for c in cluster_records(_keys(*records), max_key_group=max_key_group).clusters]


def test_records_sharing_an_email_written_differently_are_one_customer() -> None:
    assert _clusters(
        make_record(SP, "1", name="Bill's Windsurf Shop", email=" Surf@Example.com"),
        make_record(QB, "58", name="Windsurf Bill", email="surf@example.com"),
    ) == [((QB, "58"), (SP, "1"))]


def test_records_sharing_a_phone_written_differently_are_one_customer() -> None:
    assert _clusters(
        make_record(SP, "1", name="A", phone="(415) 444-6538"),
        make_record(TW, "9001", name="B", phone="+1 415.444.6538 x12"),
    ) == [((SP, "1"), (TW, "9001"))]


def test_name_and_postal_code_together_link_but_neither_alone_does() -> None:
    assert _clusters(
        make_record(SP, "1", name="The Acme Co.", postal_code="94213"),
        make_record(TW, "2", name="ACME, Inc", postal_code="94213-0001"),
        make_record(QB, "3", name="Acme", postal_code="10001"),
        make_record(QB, "4", name="Other", postal_code="94213"),
    ) == [((QB, "3"),), ((QB, "4"),), ((SP, "1"), (TW, "2"))]


def test_person_names_match_in_either_order() -> None:
    assert _clusters(
        make_record(SP, "1", name="Smith, John", postal_code="94213"),
        make_record(QB, "2", given="John", family="Smith", postal_code="94213"),
    ) == [((QB, "2"), (SP, "1"))]


def test_links_are_transitive_across_different_keys() -> None:
    assert _clusters(
        make_record(SP, "1", email="a@x.com"),
        make_record(TW, "2", email="a@x.com", phone="415-444-6538"),
        make_record(QB, "3", phone="4154446538"),
    ) == [((QB, "3"), (SP, "1"), (TW, "2"))]


def test_records_without_keys_stay_alone() -> None:
    assert _clusters(make_record(SP, "1", name="Acme"), make_record(TW, "1", name="Acme")) == [
        ((SP, "1"),),
        ((TW, "1"),),
    ]


def test_a_generic_email_shared_by_many_different_names_is_not_a_key() -> None:
    shared = [make_record(SP, str(i), name=f"Company {i}", email="info@bookkeeper.com") for i in range(5)]
    result = cluster_records(_keys(*shared), max_key_group=4)

    assert len(result.clusters) == 5
    assert result.ignored_keys == {"email": 1}


def test_a_generic_phone_does_not_chain_customers_but_their_own_keys_still_link() -> None:
    records = [make_record(TW, str(i), name=f"Company {i}", phone="(415) 444-6538") for i in range(6)]
    records.append(make_record(QB, "77", name="Company 0 Inc", email="zero@c0.com"))
    records.append(make_record(SP, "88", name="Company 0", email="zero@c0.com"))

    clusters = _clusters(*records)

    assert ((QB, "77"), (SP, "88")) in clusters
    assert len(clusters) == 7


def test_an_email_shared_by_a_few_records_still_links() -> None:
    records = [make_record(SP, str(i), name=f"Name {i}", email="team@x.com") for i in range(4)]
    assert len(_clusters(*records, max_key_group=4)) == 1


def test_many_records_of_one_name_sharing_an_email_are_duplicates_not_a_generic_value() -> None:
    records = [make_record(SP, str(i), name="Acme Inc" if i % 2 else "ACME", email="ap@acme.com") for i in range(8)]
    assert len(_clusters(*records, max_key_group=4)) == 1


def test_clustering_does_not_depend_on_record_order() -> None:
    records = [
        make_record(SP, "1", email="a@x.com"),
        make_record(TW, "2", email="a@x.com", phone="415-444-6538"),
        make_record(QB, "3", phone="4154446538"),
        make_record(QB, "4", name="Acme", postal_code="94213"),
        make_record(SP, "5", name="acme inc", postal_code="94213"),
        make_record(TW, "6"),
    ]
    expected = cluster_records(_keys(*records))
    shuffled = list(records)
    random.Random(7).shuffle(shuffled)
    assert cluster_records(_keys(*shuffled)) == expected


def test_evidence_says_which_rule_matched_with_a_hash_never_the_value() -> None:
    result = cluster_records(
        _keys(
            make_record(SP, "1", name="Acme", email="ap@acme.com", phone="415-444-6538"),
            make_record(QB, "2", name="Acme", email="AP@acme.com", phone="(415) 444-6538"),
            make_record(TW, "3", name="Solo", email="solo@x.com"),
        )
    )
    pair, solo = result.clusters
    evidence = pair.evidence[(SP, "1")]

    assert [proof["rule"] for proof in evidence["matched"]] == ["email", "phone"]
    assert evidence == pair.evidence[(QB, "2")]
    assert "acme" not in repr(evidence) and "444" not in repr(evidence)
    assert pair.confidence[(SP, "1")] == 0.99
    assert solo.evidence[(TW, "3")] == {"matched": []}
    assert solo.confidence[(TW, "3")] == 1.0


def test_cluster_counts_within_system_duplicates() -> None:
    (cluster,) = cluster_records(
        _keys(
            make_record(SP, "1", email="a@x.com"),
            make_record(SP, "2", email="a@x.com"),
            make_record(QB, "3", email="a@x.com"),
        )
    ).clusters

    assert cluster.systems == {SP, QB}
    assert cluster.duplicates == 1
