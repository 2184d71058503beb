"""createCustomer and convertLead over real HTTP: the gateway and the three simulators on 127.0.0.1.

Every test asserts the final state in the simulators themselves (their stores, counted by
name, and their own request counters), not only the mutation's answer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from email_validator import EmailNotValidError, validate_email

from connectors import RecordChanges, SourceRecord, SystemName
from connectors import Address as AddressValue
from gateway.sources import close_connectors, effective_sources, open_connectors
from tests.gateway.conftest import Stack, start_stack

CREATE = """
mutation Create($input: CustomerInput!, $key: String, $allow: Boolean! = false) {
  createCustomer(input: $input, idempotencyKey: $key, allowDuplicate: $allow) {
    __typename
    ... on CustomerCreated { replayed system recordId attributes auditId
                             customer { id sourceRecords { system id } } unsearched { system } }
    ... on PossibleDuplicate { message candidates { decision customer { id } records { system id } } }
    ... on InvalidInput { message problems { path code } }
    ... on WriteFailed { message failedSystem code }
  }
}
"""
CONVERT = """
mutation Convert($id: ID!, $key: String) {
  convertLead(id: $id, idempotencyKey: $key) {
    __typename
    ... on LeadConverted { replayed auditId steps { system recordId action confidence }
                           customer { id sourceRecords { system id } } }
    ... on ConversionFailed { message system code retryable steps { system recordId action } }
    ... on NotALead { message }
    ... on CustomerNotFound { message }
  }
}
"""
CUSTOMER = """
query One($id: ID!) { customer(id: $id) { id name status crm { id name status } sourceRecords { system id } } }
"""
CRM_CUSTOMERS = "{ customers(first: 100) { edges { node { id crm { id name email } } } } }"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    built, servers = start_stack(tmp_path_factory.mktemp("c360-create"), customers=40)
    yield built
    for server in servers:
        server.stop()


def gql(stack: Stack, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(stack.graphql_url, json={"query": query, "variables": variables}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def create(stack: Stack, values: dict[str, Any], key: str | None = None, allow: bool = False) -> dict[str, Any]:
    return gql(stack, CREATE, {"input": values, "key": key, "allow": allow})["createCustomer"]


def convert(stack: Stack, customer_id: str, key: str | None = None) -> dict[str, Any]:
    return gql(stack, CONVERT, {"id": customer_id, "key": key})["convertLead"]


def unique_lead(label: str) -> dict[str, Any]:
    """Values no other customer comes close to: made-up name, email, phone and street, fresh per call."""
    tag = uuid.uuid4().hex[:8]
    digits = int(tag, 16)
    return {
        "name": f"Zq{tag} {label} Works",
        "email": f"ops@zq{tag}.example",
        "phone": f"+1 503 {200 + digits % 700} {1000 + digits % 9000}",
        "address": {"line1": f"{10 + digits % 900} Zq{tag} Lane", "city": "Portland", "state": "OR",
                    "postalCode": "97204", "country": "US"},
    }


# --- what the simulators hold ----------------------------------------------------------------------


def crm_items(stack: Stack, name: str) -> list[dict[str, Any]]:
    items = stack.simulators["sharepoint"].store.collection("customers").all()
    return [item for item in items if item["fields"].get("Title") == name]


def teamwork_companies(stack: Stack, name: str) -> list[dict[str, Any]]:
    return [c for c in stack.simulators["teamwork"].store.collection("companies").all() if c.get("name") == name]


def quickbooks_customers(stack: Stack, name: str) -> list[dict[str, Any]]:
    return [c for c in stack.simulators["quickbooks"].store.collection("customers").all()
            if c.get("DisplayName") == name]


def calls(stack: Stack) -> dict[str, dict[str, int]]:
    """Each simulator's own request counter: "METHOD path" -> count."""
    return {name: httpx.get(f"{url}/_admin/stats").json()["calls"] for name, url in stack.simulator_urls.items()}


def posts_to(counters: dict[str, dict[str, int]], system: str, suffix: str) -> int:
    return sum(n for key, n in counters[system].items() if key.startswith("POST ") and key.endswith(suffix))


def faults(stack: Stack, system: str, **settings: Any) -> None:
    httpx.put(f"{stack.simulator_urls[system]}/_admin/faults", json=settings).raise_for_status()


def create_directly(stack: Stack, system: SystemName, changes: RecordChanges) -> SourceRecord:
    """A record made in the system itself, as a person in its UI would (the index does not know it)."""
    async def make() -> SourceRecord:
        connectors = open_connectors(effective_sources(stack.settings))
        try:
            return await connectors[system].create(changes)
        finally:
            await close_connectors(connectors)

    return asyncio.run(make())


def existing_crm_customer(stack: Stack) -> tuple[str, str, str]:
    """(golden id, name, email) of an indexed customer whose CRM record has a valid email."""
    for edge in gql(stack, CRM_CUSTOMERS, {})["customers"]["edges"]:
        for record in edge["node"]["crm"] or []:
            if record["name"] and record["email"]:
                try:
                    validate_email(record["email"], check_deliverability=False)
                except EmailNotValidError:
                    continue
                return edge["node"]["id"], record["name"], record["email"]
    raise AssertionError("no CRM customer with a name and a valid email")


# --- createCustomer --------------------------------------------------------------------------------


def test_a_new_customer_is_created_once_in_the_crm_as_a_lead_and_indexed(stack: Stack) -> None:
    values = unique_lead("New")

    answer = create(stack, values)

    assert answer["__typename"] == "CustomerCreated", answer
    assert answer["system"] == "SHAREPOINT" and answer["unsearched"] == []
    assert answer["customer"]["sourceRecords"] == [{"system": "SHAREPOINT", "id": answer["recordId"]}]
    [item] = crm_items(stack, values["name"])
    assert str(item["id"]) == answer["recordId"]
    fields = item["fields"]
    assert (fields["CustomerStatus"], fields["EmailPrimary"], fields["City"], fields["State"]) == (
        "lead", values["email"], "Portland", "OR")
    found = gql(stack, CUSTOMER, {"id": answer["customer"]["id"]})["customer"]
    assert (found["name"], found["status"]) == (values["name"], "LEAD")
    assert found["crm"] == [{"id": answer["recordId"], "name": values["name"], "status": "LEAD"}]
    assert teamwork_companies(stack, values["name"]) == quickbooks_customers(stack, values["name"]) == []


def test_a_customer_like_an_existing_one_is_offered_back_and_nothing_is_created(stack: Stack) -> None:
    customer_id, name, email = existing_crm_customer(stack)
    items_before = len(crm_items(stack, name))
    before = calls(stack)

    answer = create(stack, {"name": name, "email": email})

    assert answer["__typename"] == "PossibleDuplicate", answer
    assert customer_id in [c["customer"]["id"] for c in answer["candidates"] if c["customer"]]
    assert {c["decision"] for c in answer["candidates"]} <= {"LINK", "REVIEW"}
    after = calls(stack)
    assert posts_to(after, "sharepoint", "/items") == posts_to(before, "sharepoint", "/items")  # no create sent
    assert len(crm_items(stack, name)) == items_before

    insisted = create(stack, {"name": name, "email": email}, allow=True)

    assert insisted["__typename"] == "CustomerCreated", insisted
    assert insisted["customer"]["id"] != customer_id
    assert len(crm_items(stack, name)) == items_before + 1
    assert posts_to(calls(stack), "sharepoint", "/items") == posts_to(before, "sharepoint", "/items") + 1


def test_invalid_create_input_lists_every_problem_and_no_system_is_called(stack: Stack) -> None:
    before = calls(stack)

    answer = create(stack, {"email": "not-an-email", "website": "https://quorvex.example",
                            "address": {"line1": "1 Main St", "city": "Austin", "state": "ZZ", "country": "US"}})

    assert answer["__typename"] == "InvalidInput", answer
    problems = {tuple(p["path"]): p["code"] for p in answer["problems"]}
    assert problems[("input", "name")] == "REQUIRED"
    assert problems[("input", "email")] == "INVALID_EMAIL"
    assert problems[("input", "website")] == "NOT_STORED"  # the CRM list has no website column
    assert ("input", "address", "state") in problems
    assert calls(stack) == before  # the simulators' own counters: not even the search reached a system


def test_the_same_idempotency_key_creates_once(stack: Stack) -> None:
    values = unique_lead("Once")
    key = f"create-{uuid.uuid4()}"

    first = create(stack, values, key)
    again = create(stack, values, key)

    assert first["__typename"] == again["__typename"] == "CustomerCreated", (first, again)
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["customer"]["id"] == first["customer"]["id"] and again["recordId"] == first["recordId"]
    assert len(crm_items(stack, values["name"])) == 1
    reused = create(stack, {**values, "phone": "+1 503 555 0199"}, key)
    assert reused["__typename"] == "IdempotencyKeyReused"


# --- convertLead -----------------------------------------------------------------------------------


def test_converting_a_lead_sets_it_up_in_teamwork_and_quickbooks_and_activates_it(stack: Stack) -> None:
    values = unique_lead("Convert")
    lead = create(stack, values)
    customer_id = lead["customer"]["id"]

    answer = convert(stack, customer_id, key=f"convert-{uuid.uuid4()}")

    assert answer["__typename"] == "LeadConverted", answer
    assert [(s["system"], s["action"]) for s in answer["steps"]] == [
        ("TEAMWORK", "CREATED"), ("QUICKBOOKS", "CREATED"), ("SHAREPOINT", "UPDATED")]
    [company] = teamwork_companies(stack, values["name"])
    [account] = quickbooks_customers(stack, values["name"])
    [item] = crm_items(stack, values["name"])
    assert item["fields"]["CustomerStatus"] == "active"
    street = values["address"]["line1"]
    assert (company["addressOne"], company["city"], company["state"], company["zip"], company["emailOne"]) == (
        street, "Portland", "OR", "97204", values["email"])
    bill = account["BillAddr"]
    assert (bill["Line1"], bill["City"], bill["CountrySubDivisionCode"], bill["PostalCode"]) == (
        street, "Portland", "OR", "97204")
    assert account["PrimaryEmailAddr"]["Address"] == values["email"] and account["Active"] is True
    view = gql(stack, CUSTOMER, {"id": customer_id})["customer"]
    assert sorted((r["system"], r["id"]) for r in view["sourceRecords"]) == [
        ("QUICKBOOKS", str(account["Id"])), ("SHAREPOINT", str(item["id"])), ("TEAMWORK", str(company["id"]))]
    assert view["status"] == "ACTIVE"

    again = convert(stack, customer_id)  # a converted customer: nothing to do, and nothing is done

    assert [(s["system"], s["action"]) for s in again["steps"]] == [
        ("TEAMWORK", "ALREADY_LINKED"), ("QUICKBOOKS", "ALREADY_LINKED"), ("SHAREPOINT", "UNCHANGED")]
    assert len(teamwork_companies(stack, values["name"])) == len(quickbooks_customers(stack, values["name"])) == 1


def test_a_conversion_interrupted_after_teamwork_finishes_on_a_rerun_without_creating_twice(stack: Stack) -> None:
    values = unique_lead("Resume")
    customer_id = create(stack, values)["customer"]["id"]
    faults(stack, "quickbooks", outage=True)
    try:
        stopped = convert(stack, customer_id)
    finally:
        faults(stack, "quickbooks", outage=False)

    assert stopped["__typename"] == "ConversionFailed", stopped
    assert (stopped["system"], stopped["retryable"]) == ("QUICKBOOKS", True)
    assert [(s["system"], s["action"]) for s in stopped["steps"]] == [("TEAMWORK", "CREATED")]
    assert len(teamwork_companies(stack, values["name"])) == 1
    assert quickbooks_customers(stack, values["name"]) == []
    assert crm_items(stack, values["name"])[0]["fields"]["CustomerStatus"] == "lead"

    resumed = convert(stack, customer_id)

    assert resumed["__typename"] == "LeadConverted", resumed
    assert [(s["system"], s["action"]) for s in resumed["steps"]] == [
        ("TEAMWORK", "ALREADY_LINKED"), ("QUICKBOOKS", "CREATED"), ("SHAREPOINT", "UPDATED")]
    assert len(teamwork_companies(stack, values["name"])) == 1
    assert len(quickbooks_customers(stack, values["name"])) == 1
    assert crm_items(stack, values["name"])[0]["fields"]["CustomerStatus"] == "active"
    systems = sorted(r["system"] for r in resumed["customer"]["sourceRecords"])
    assert systems == ["QUICKBOOKS", "SHAREPOINT", "TEAMWORK"]


def test_a_customer_quickbooks_already_has_is_linked_not_created(stack: Stack) -> None:
    values = unique_lead("Billing")
    customer_id = create(stack, values)["customer"]["id"]
    a = values["address"]
    existing = create_directly(stack, SystemName.QUICKBOOKS, RecordChanges(
        name=values["name"], email=values["email"],
        address=AddressValue(line1=a["line1"], city=a["city"], state=a["state"], postal_code=a["postalCode"])))

    answer = convert(stack, customer_id)

    assert answer["__typename"] == "LeadConverted", answer
    step = {s["system"]: s for s in answer["steps"]}
    assert (step["QUICKBOOKS"]["action"], step["QUICKBOOKS"]["recordId"]) == ("LINKED", existing.id)
    assert step["TEAMWORK"]["action"] == "CREATED"
    assert [str(c["Id"]) for c in quickbooks_customers(stack, values["name"])] == [existing.id]
    assert {"system": "QUICKBOOKS", "id": existing.id} in answer["customer"]["sourceRecords"]
