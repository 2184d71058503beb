"""Known drift (`generate(..., drift=rate)`): differences of form only, plus value drift listed in drift_truth.csv.

These check what the generator wrote against its own truth without the normalizer the
reconciliation uses (that comparison is tests/gateway/test_reconcile.py's): the drifted
record holds a value the entity's other records do not, in the raw stored shapes.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sandbox._credentials import SandboxCredentials
from sandbox._gen_drift import ATTRIBUTES
from sandbox.generate import generate
from tests.sandbox.test_generate import SYSTEMS, Generated, load, raw_rows

CUSTOMERS = 300
SEED = 5


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    data_dir = tmp_path_factory.mktemp("drift")
    credentials = SandboxCredentials.generate()
    return load(data_dir, generate(data_dir, customers=CUSTOMERS, seed=SEED, credentials=credentials, drift=0.4),
                credentials)


def truth_rows(data_dir: Path) -> list[dict[str, str]]:
    with (data_dir / "sandbox" / "drift_truth.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def record_of(generated: Generated, system: str, record_id: str) -> dict[str, Any]:
    collection = "companies" if system == "teamwork" else "customers"
    return generated.collection(system, collection)[int(record_id)]


def raw_value(system: str, record: dict[str, Any], attribute: str) -> Any:
    """The stored value of `attribute` as the system holds it (wire names: this is the sandbox's own test)."""
    fields = record.get("fields", {})
    table: dict[str, dict[str, Any]] = {
        "sharepoint": {"name": fields.get("Title"), "email": fields.get("EmailPrimary"), "phone": fields.get("Phone"),
                       "address": fields.get("StreetAddress1"), "status": fields.get("CustomerStatus")},
        "teamwork": {"name": record.get("name"), "email": record.get("emailOne"), "phone": record.get("phone"),
                     "address": record.get("addressOne"), "website": record.get("website")},
        "quickbooks": {"name": record.get("CompanyName") or record.get("DisplayName"),
                       "email": (record.get("PrimaryEmailAddr") or {}).get("Address"),
                       "phone": (record.get("PrimaryPhone") or {}).get("FreeFormNumber"),
                       "address": (record.get("BillAddr") or {}).get("Line1"),
                       "website": (record.get("WebAddr") or {}).get("URI"), "status": record.get("Active")},
    }
    return table[system].get(attribute) or None


def test_the_truth_lists_each_drift_once_and_matches_the_summary(drifted: Generated) -> None:
    rows = truth_rows(drifted.data_dir)

    assert rows and set(rows[0]) == {"entity", "attribute", "systems"}
    assert Counter(r["attribute"] for r in rows) == {a: n for a, n in drifted.summary.drifted.items() if n}
    assert set(drifted.summary.drifted) == set(ATTRIBUTES)
    assert all(n > 0 for a, n in drifted.summary.drifted.items() if a != "website")
    # One drifted attribute per entity, in a system the entity is in, and only for entities in 2+ systems.
    assert len({r["entity"] for r in rows}) == len(rows)
    spread = drifted.entities_by_system()
    for row in rows:
        assert row["systems"] in SYSTEMS and spread[row["entity"]][row["systems"]] >= 1
        assert len(spread[row["entity"]]) >= 2


def test_the_drifted_record_holds_a_value_the_other_records_do_not(drifted: Generated) -> None:
    by_entity: dict[str, list[tuple[str, str]]] = {}
    for entity, system, record_id in drifted.truth:
        by_entity.setdefault(entity, []).append((system, record_id))
    for row in truth_rows(drifted.data_dir):
        attribute, target = row["attribute"], row["systems"]
        records = [(s, record_of(drifted, s, r)) for s, r in by_entity[row["entity"]]]
        mine = [raw_value(s, rec, attribute) for s, rec in records if s == target]
        others = [raw_value(s, rec, attribute) for s, rec in records if s != target]
        assert all(v is not None for v in mine), row
        if attribute == "status":
            assert mine[0] == "lead" and True in others, row  # a lead in the CRM, active in the books
            continue
        folded = {str(v).strip().casefold() for v in others if v is not None}
        assert folded, f"no other record holds {attribute}: {row}"
        assert str(mine[0]).strip().casefold() not in folded, row


def test_same_seed_and_rate_give_the_same_data_and_truth(tmp_path: Path, drifted: Generated) -> None:
    again = tmp_path / "again"
    generate(again, customers=CUSTOMERS, seed=SEED, credentials=drifted.credentials, drift=0.4)

    assert truth_rows(again) == truth_rows(drifted.data_dir)
    for system in SYSTEMS:
        assert raw_rows(again, system) == raw_rows(drifted.data_dir, system)


def test_without_drift_no_truth_file_is_left_behind(tmp_path: Path, credentials: SandboxCredentials) -> None:
    generate(tmp_path, customers=20, seed=1, credentials=credentials, drift=0.5)
    assert (tmp_path / "sandbox" / "drift_truth.csv").exists()

    summary = generate(tmp_path, customers=20, seed=1, credentials=credentials)

    assert not (tmp_path / "sandbox" / "drift_truth.csv").exists()
    assert summary.drift == 0.0 and summary.drifted == {}


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_a_rate_outside_0_to_1_is_refused(tmp_path: Path, credentials: SandboxCredentials, rate: float) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, customers=5, seed=1, credentials=credentials, drift=rate)
