"""Blocking: true pairs are found through realistic mess, and the pair count grows linearly."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from connectors import SystemName
from xref._match_types import MatchRecord, PartyKind
from xref.blocking import block_keys, block_records, candidate_pairs, soundex, token_rarity

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS


def make_record(index: int, system: SystemName = SP, *, name: str | None = None, **fields: Any) -> MatchRecord:
    """A MatchRecord as normalization would hand it over (name tokens derived from `name`)."""
    tokens = tuple(sorted(set(name.split()))) if name else ()
    return MatchRecord(
        index=index, system=system, record_id=f"{system}-{index}", name=name, name_tokens=tokens, **fields
    )


def test_pairs_are_ordered_unique_and_use_record_indices() -> None:
    records = [
        make_record(40, QB, name="ocean surf", email="a@ocean.example"),
        make_record(7, SP, name="ocean surf shop", email="a@ocean.example", phone="+14155550100"),
        make_record(19, TW, name="ocean surf", phone="+14155550100"),
    ]
    pairs = candidate_pairs(records)
    assert pairs == sorted(set(pairs))
    assert all(i < j for i, j in pairs)
    assert set(pairs) == {(7, 19), (7, 40), (19, 40)}


def test_realistic_true_pairs_are_found() -> None:
    records = [
        # Company: the CRM drops the suffix word, QuickBooks moved address but kept the email.
        make_record(
            0, SP, name="bills windsurf shop", email="surf@billswind.example", postal="94019", street="12 ocean dr"
        ),
        make_record(
            1, QB, name="bills windsurf", email="surf@billswind.example", postal="94107", street="400 market st"
        ),
        # Same company in Teamwork: only the phone (formats already normalized to E.164) and website.
        make_record(2, TW, name="windsurf shop bill", phone="+14154446538", website_domain="billswind.example"),
        make_record(3, SP, name="bill windsurf", phone="+14154446538", email_domain="billswind.example"),
        # Person with a spelling variant of the family name, moved within the area, nothing shared.
        make_record(
            4, SP, name="kathryn smith", given="kathryn", family="smith", postal="94019", kind=PartyKind.PERSON
        ),
        make_record(
            5, TW, name="katherine smyth", given="katherine", family="smyth", postal="94107", kind=PartyKind.PERSON
        ),
        # A typo in a rare word, same postal code: postal + name prefix.
        make_record(6, SP, name="zephyrine consulting", postal="10001"),
        make_record(7, QB, name="zephirine consulting", postal="10001"),
        # Same street and postal code, name rewritten entirely.
        make_record(8, SP, name="acme", street="5 main st", postal="60601"),
        make_record(9, TW, name="acme widgets holdings", street="5 main st", postal="60601"),
        # A duplicate inside one system is a candidate too.
        make_record(10, TW, name="northwind traders", email="ops@northwind.example"),
        make_record(11, TW, name="north wind traders", email="ops@northwind.example"),
    ]
    pairs = set(candidate_pairs(records))
    for true_pair in [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)]:
        assert true_pair in pairs, true_pair


def test_result_does_not_depend_on_input_order() -> None:
    records = _synthetic(400, seed=3)[0]
    shuffled = records[:]
    random.Random(9).shuffle(shuffled)
    first, second = block_records(records), block_records(shuffled)
    assert first.pairs == second.pairs
    assert first.stats == second.stats


def test_oversized_block_is_windowed_not_exploded() -> None:
    # A bookkeeper's inbox on 500 unrelated customers.
    records = [make_record(i, QB, name=f"firm{i} ltd", email="books@accountant.example") for i in range(500)]
    result = block_records(records, max_block=48, window=8)
    email = result.stats.keys["email"]
    assert email.windowed_blocks == 1 and email.largest_block == 500
    assert email.pairs == sum(min(8, 499 - a) for a in range(500))
    assert len(result.pairs) <= sum(k.pairs for k in result.stats.keys.values()) < 500 * 20


def test_oversized_block_can_be_skipped_and_is_counted() -> None:
    records = [make_record(i, QB, name=f"firm{i} ltd", email="books@accountant.example") for i in range(500)]
    result = block_records(records, max_block=48, oversize="skip")
    email = result.stats.keys["email"]
    assert (email.skipped_blocks, email.skipped_records, email.pairs) == (1, 500, 0)
    assert result.stats.skipped_blocks == 1
    # The name-order pass is a window by design, never skipped.
    assert result.stats.keys["name_sorted"].windowed_blocks == 1


def test_duplicate_index_is_refused() -> None:
    with pytest.raises(ValueError, match="index 1"):
        candidate_pairs([make_record(1), make_record(1, TW)])


def test_pair_count_grows_linearly_with_records() -> None:
    counts = {}
    for customers in (2_000, 4_000, 8_000):
        records, truth = _synthetic(customers, seed=1)
        result = block_records(records)
        counts[customers] = (len(records), len(result.pairs))
        found = truth & set(result.pairs)
        assert len(found) >= 0.98 * len(truth)
    per_record = {c: pairs / records for c, (records, pairs) in counts.items()}
    # Quadratic growth would double pairs per record at each step; allow a little drift.
    assert per_record[8_000] <= 1.25 * per_record[2_000]
    assert per_record[8_000] < 30


def test_stats_count_new_pairs_per_key() -> None:
    records = [
        make_record(0, SP, name="a b", email="x@y.example", phone="+14155550100"),
        make_record(1, TW, name="c d", email="x@y.example", phone="+14155550100"),
    ]
    stats = block_records(records).stats
    assert stats.keys["email"].new_pairs == 1
    assert stats.keys["phone"].pairs == 1 and stats.keys["phone"].new_pairs == 0
    assert stats.pairs == 1 and stats.pairs_per_record == 0.5


def test_block_keys_of_one_record() -> None:
    record = make_record(
        0, name="zephyr consulting", postal="10001", email="a@zephyr.example", email_domain="zephyr.example"
    )
    rarity = token_rarity([record, make_record(1, name="consulting group")])
    keys = block_keys(record, rarity)
    assert ("email", "a@zephyr.example") in keys
    assert ("domain", "zephyr.example") in keys
    assert ("postal_name", "10001|zep") in keys


@pytest.mark.parametrize(
    ("word", "code"),
    [("smith", "s530"), ("smyth", "s530"), ("robert", "r163"), ("rupert", "r163"), ("ashcraft", "a261"), ("", "")],
)
def test_soundex(word: str, code: str) -> None:
    assert soundex(word) == code


# -- synthetic data ---------------------------------------------------------------------------


def _words(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return sorted(
        {
            "".join(rng.choice(c) for c in ("bdgklmnprst", "aeiou", "lnrst", "aeiou", "bdgklmnprst"))
            for _ in range(count)
        }
    )


_WORDS = _words(800, 1)
_GIVEN = _words(80, 2)
_FAMILY = _words(400, 3)


def _synthetic(customers: int, seed: int) -> tuple[list[MatchRecord], set[tuple[int, int]]]:
    """Customers spread over the systems with mess, plus generic values that grow with the data.

    The vocabularies are fixed, so common names and postal codes get more crowded as the data
    grows, like real data; a shared inbox and a switchboard number are held by 1% of records.
    """
    rng = random.Random(seed)
    records: list[MatchRecord] = []
    truth: set[tuple[int, int]] = set()
    postals = [f"{n:05d}" for n in range(max(50, customers // 20))]
    for c in range(customers):
        person = rng.random() < 0.4
        if person:
            given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
            base = replace(make_record(0, name=f"{given} {family}"), given=given, family=family, kind=PartyKind.PERSON)
        else:
            base = make_record(0, name=" ".join(rng.sample(_WORDS, rng.choice((2, 3)))), email_domain=f"c{c}.example")
        base = replace(
            base,
            email=f"info@c{c}.example",
            phone=f"+1415{c:07d}",
            postal=rng.choice(postals),
            street=f"{rng.randrange(1, 999)} {rng.choice(_WORDS)} st",
        )
        mine = []
        for system in rng.sample([SP, TW, QB], rng.choice((1, 2, 3, 3))):
            record = replace(base, index=len(records), system=system, record_id=f"{system}-{len(records)}")
            roll = rng.random()
            if roll < 0.3:
                record = replace(record, email=None)
            elif roll < 0.5:
                record = replace(record, phone=None)
            elif roll < 0.6:
                record = replace(record, postal=rng.choice(postals), street=None)
            if rng.random() < 0.01:
                record = replace(record, email="books@bookkeeper.example")
            if rng.random() < 0.01:
                record = replace(record, phone="+18005550000")
            mine.append(record.index)
            records.append(record)
        truth.update((a, b) for i, a in enumerate(mine) for b in mine[i + 1 :])
    return records, truth
