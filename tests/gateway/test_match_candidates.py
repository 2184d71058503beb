"""Acceptance 4 of issue 4 over GraphQL on generated data: `matchCandidates` finds the right customer first.

"Right" comes from the generator's ground truth, not from the index: a customer is a
probe target only when its golden id holds exactly the records of one real-world entity.
The probe values are the records' own values, read live through the gateway.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Stack

ALL_CUSTOMERS = """
{ customers(first: 100) { edges { node {
    id
    sourceRecords { system id }
    crm { id name email phone }
    billing { id name email phone }
    projectManagement { id name email phone }
} } } }
"""

MATCH = """
query Match($name: String, $email: String, $phone: String, $address: AddressInput, $first: Int! = 10) {
  matchCandidates(name: $name, email: $email, phone: $phone, address: $address, first: $first) {
    candidates {
      customer { id sourceRecords { system id } }
      score confidence decision
      evidence { attribute level weight }
      records { system id url }
    }
    unavailable { system reason }
  }
}
"""

#: Customers probed per kind of search: several, so one lucky customer cannot pass the test.
PROBES = 8


def post(stack: Stack, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(stack.graphql_url, json={"query": query, "variables": variables or {}}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass(frozen=True)
class Target:
    customer_id: str
    record: tuple[str, str]
    name: str | None
    email: str | None
    phone: str | None


def _digits(phone: str | None) -> str:
    return re.sub(r"\D", "", phone or "")[-10:]


VIEWS = {"crm": "SHAREPOINT", "billing": "QUICKBOOKS", "projectManagement": "TEAMWORK"}


@pytest.fixture(scope="module")
def all_targets(stack: Stack) -> dict[str, list[Target]]:
    """Per system view, one record's values for each correctly matched customer holding a record there."""
    truth: dict[tuple[str, str], str] = {}
    entity_records: dict[str, set[tuple[str, str]]] = defaultdict(set)
    with (stack.settings.data_dir / "sandbox" / "ground_truth.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = (row["system"].upper(), row["record_id"])
            truth[key] = row["entity"]
            entity_records[row["entity"]].add(key)
    body = post(stack, ALL_CUSTOMERS)
    assert "errors" not in body, body.get("errors")
    found: dict[str, list[Target]] = {view: [] for view in VIEWS}
    for edge in body["data"]["customers"]["edges"]:
        node = edge["node"]
        records = {(r["system"], r["id"]) for r in node["sourceRecords"]}
        entities = {truth.get(key) for key in records}
        if len(entities) != 1 or None in entities or entity_records[entities.pop()] != records:  # type: ignore[index]
            continue
        for view, system in VIEWS.items():
            if node[view]:
                record = node[view][0]
                found[view].append(
                    Target(node["id"], (system, record["id"]), record["name"], record["email"], record["phone"])
                )
    assert all(len(found[view]) >= 2 * PROBES for view in VIEWS), "plenty of correctly matched customers"
    return found


@pytest.fixture(params=list(VIEWS))
def targets(request: pytest.FixtureRequest, all_targets: dict[str, list[Target]]) -> list[Target]:
    """Probe values taken from each system in turn: whichever system a tool copied them from."""
    return all_targets[request.param]


def _unique(targets: list[Target], value: Any) -> list[Target]:
    """Targets whose probe value no other target shares: a shared inbox ties two customers by right."""
    counts = Counter(value(t) for t in targets)
    return [t for t in targets if value(t) and counts[value(t)] == 1]


def _check_first(stack: Stack, target: Target, variables: dict[str, Any]) -> dict[str, Any]:
    body = post(stack, MATCH, variables)
    assert "errors" not in body, body.get("errors")
    result = body["data"]["matchCandidates"]
    assert result["unavailable"] == []
    candidates = result["candidates"]
    assert candidates, f"nothing found for {variables}"
    best = candidates[0]
    assert best["customer"] is not None and best["customer"]["id"] == target.customer_id, (variables, candidates[:3])
    assert {"system": target.record[0], "id": target.record[1]} in [
        {"system": r["system"], "id": r["id"]} for r in best["records"]
    ]
    assert best["evidence"], "a candidate says why it is one"
    assert sum(e["weight"] for e in best["evidence"]) == pytest.approx(best["score"], abs=0.01)
    assert [c["score"] for c in candidates] == sorted((c["score"] for c in candidates), reverse=True)
    return best


def test_an_email_finds_the_right_customer_first(stack: Stack, targets: list[Target]) -> None:
    chosen = _unique(targets, lambda t: (t.email or "").casefold())[:PROBES]
    assert len(chosen) >= PROBES // 2

    for target in chosen:
        best = _check_first(stack, target, {"email": target.email})
        assert any(e["attribute"] == "email" and e["level"] == "exact" for e in best["evidence"])


def test_a_name_and_phone_find_the_right_customer_first(stack: Stack, targets: list[Target]) -> None:
    chosen = [t for t in _unique(targets, lambda t: _digits(t.phone)) if t.name][:PROBES]
    assert len(chosen) >= PROBES // 2

    for target in chosen:
        best = _check_first(stack, target, {"name": target.name, "phone": target.phone})
        assert {"name", "phone"} <= {e["attribute"] for e in best["evidence"]}
        assert best["decision"] == "LINK"


def test_first_limits_the_candidates(stack: Stack, all_targets: dict[str, list[Target]]) -> None:
    target = next(t for t in all_targets["crm"] if t.name)

    body = post(stack, MATCH, {"name": target.name.split()[0], "first": 1})  # type: ignore[union-attr]

    assert "errors" not in body, body.get("errors")
    assert len(body["data"]["matchCandidates"]["candidates"]) <= 1


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({}, "name"),
        ({"name": "  ", "email": ""}, "name"),
        ({"address": {"postalCode": "94107"}}, "name"),
        ({"email": "a@b.example", "first": 0}, "first"),
        ({"email": "a@b.example", "first": 51}, "first"),
    ],
    ids=json.dumps,
)
def test_bad_input_is_a_bad_user_input_error(stack: Stack, variables: dict[str, Any], argument: str) -> None:
    body = post(stack, MATCH, variables)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == argument
