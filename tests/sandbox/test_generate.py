"""The sandbox data generator: deterministic, in the STORAGE.md shapes, and as messy as real data."""

from __future__ import annotations

import csv
import re
import sqlite3
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox._credentials import SandboxCredentials
from sandbox._gen_clock import Timeline
from sandbox._store import Store
from sandbox.generate import GenerationSummary, generate

SEED = 42
CUSTOMERS = 300
SYSTEMS = ("sharepoint", "teamwork", "quickbooks")
SP_COLUMNS = {"Title", "StreetAddress1", "StreetAddress2", "City", "State", "Zip", "EmailPrimary", "Phone", "CustomerStatus"}
TW_COMPANY_KEYS = {
    "id", "name", "addressOne", "addressTwo", "city", "state", "zip", "countryCode", "phone", "fax", "website",
    "emailOne", "emailTwo", "emailThree", "cid", "companyNameUrl", "logoUrl", "isOwner", "canSeePrivate",
    "status", "tags", "industry", "createdAt", "updatedAt",
}
TW_TEXT_KEYS = TW_COMPANY_KEYS - {"id", "isOwner", "canSeePrivate", "tags", "industry"}
TW_PROJECT_KEYS = {
    "id", "name", "description", "status", "subStatus", "companyId", "ownerId", "ownerName",
    "startDate", "endDate", "createdAt", "updatedAt",
}
UTC_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
QBO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[78]:00$")
YMD = re.compile(r"^\d{8}$")
ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


@dataclass
class Generated:
    """One generated data dir, loaded back the way a simulator would read it."""

    data_dir: Path
    summary: GenerationSummary
    credentials: SandboxCredentials
    records: dict[str, dict[str, dict[int, dict[str, Any]]]]  # system -> collection -> id -> record
    truth: list[tuple[str, str, str]]

    def collection(self, system: str, name: str) -> dict[int, dict[str, Any]]:
        return self.records[system].get(name, {})

    def entities_by_system(self) -> dict[str, Counter[str]]:
        """entity -> how many customer records each system holds for it."""
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for entity, system, _ in self.truth:
            out[entity][system] += 1
        return out


def load(data_dir: Path, summary: GenerationSummary, credentials: SandboxCredentials) -> Generated:
    records: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}
    for system in SYSTEMS:
        store = Store(data_dir / "sandbox" / f"{system}.sqlite3")
        with sqlite3.connect(store.path) as db:
            names = [row[0] for row in db.execute("SELECT DISTINCT collection FROM records")]
        records[system] = {name: {r["id"] if "id" in r else int(r["Id"]): r for r in store.collection(name).all()} for name in names}
        store.close()
    with (data_dir / "sandbox" / "ground_truth.csv").open(newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == ["entity", "system", "record_id"]
        truth = [(e, s, r) for e, s, r in reader]
    return Generated(data_dir, summary, credentials, records, truth)


def raw_rows(data_dir: Path, system: str) -> list[tuple[str, int, bytes]]:
    with sqlite3.connect(data_dir / "sandbox" / f"{system}.sqlite3") as db:
        return db.execute("SELECT collection, id, data FROM records ORDER BY collection, id").fetchall()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    data_dir = tmp_path_factory.mktemp("gen")
    credentials = SandboxCredentials.generate()
    summary = generate(data_dir, customers=CUSTOMERS, seed=SEED, credentials=credentials)
    return load(data_dir, summary, credentials)


def as_of() -> datetime:
    return datetime.fromtimestamp(Timeline.for_seed(SEED).as_of).astimezone()


# --- determinism and replacement -------------------------------------------------------------


def test_same_seed_gives_identical_records_and_ground_truth(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, customers=120, seed=7, credentials=SandboxCredentials.generate())
    generate(b, customers=120, seed=7, credentials=SandboxCredentials.generate())
    generate(c, customers=120, seed=8, credentials=SandboxCredentials.generate())
    truth = "sandbox/ground_truth.csv"
    assert (a / truth).read_bytes() == (b / truth).read_bytes()
    for system in SYSTEMS:
        assert raw_rows(a, system) == raw_rows(b, system)
        assert raw_rows(a, system) != raw_rows(c, system)


def test_generating_again_replaces_the_previous_data(tmp_path: Path, credentials: SandboxCredentials) -> None:
    generate(tmp_path, customers=200, seed=1, credentials=credentials)
    summary = generate(tmp_path, customers=20, seed=2, credentials=credentials)
    again = load(tmp_path, summary, credentials)
    assert len(again.truth) == sum(summary.records.values())
    assert len(again.collection("quickbooks", "customers")) == summary.records["quickbooks"]
    assert len(again.collection("quickbooks", "invoices")) == summary.invoices
    assert len(again.collection("sharepoint", "documents")) == summary.documents
    assert not list((tmp_path / "sandbox").glob("*.tmp"))


def test_zero_customers_leaves_only_the_teamwork_owner(tmp_path: Path, credentials: SandboxCredentials) -> None:
    summary = generate(tmp_path, customers=0, credentials=credentials)
    empty = load(tmp_path, summary, credentials)
    assert empty.truth == []
    assert list(empty.collection("teamwork", "companies")) == [1]
    assert empty.collection("sharepoint", "customers") == {}


def test_negative_customer_count_is_refused(tmp_path: Path, credentials: SandboxCredentials) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, customers=-1, credentials=credentials)


def test_progress_reports_every_customer_and_the_finish(tmp_path: Path, credentials: SandboxCredentials) -> None:
    calls: list[tuple[str, int, int]] = []
    generate(tmp_path, customers=50, credentials=credentials, progress=lambda *a: calls.append(a))
    customers = [done for stage, done, total in calls if stage == "customers"]
    assert customers == sorted(customers) and customers[-1] == 50
    assert all(total == 50 for stage, _, total in calls if stage == "customers")
    assert calls[-1][0] == "finishing" and calls[-1][1] == calls[-1][2]


# --- stored shapes (sandbox/STORAGE.md) ------------------------------------------------------


def test_sharepoint_customers_have_the_list_columns_only(generated: Generated) -> None:
    for item_id, item in generated.collection("sharepoint", "customers").items():
        assert item["id"] == item_id and item_id >= 1
        uuid.UUID(item["guid"])
        assert isinstance(item["version"], int) and item["version"] >= 1
        assert UTC_Z.match(item["created"]) and UTC_Z.match(item["modified"])
        assert item["modified"] >= item["created"]
        for who in (item["createdBy"], item["modifiedBy"]):
            assert {"id", "email", "displayName"} <= who.keys()
        fields = item["fields"]
        assert set(fields) <= SP_COLUMNS
        assert fields["Title"].strip()
        assert fields["CustomerStatus"] in {"lead", "active"}
        assert all(isinstance(v, str) and v for v in fields.values()), "empty columns are omitted"
    assert min(generated.collection("sharepoint", "customers")) == 1


def test_sharepoint_documents_belong_to_existing_customers(generated: Generated) -> None:
    customers = generated.collection("sharepoint", "customers")
    documents = generated.collection("sharepoint", "documents")
    assert documents
    for doc_id, doc in documents.items():
        assert doc["id"] == doc_id
        assert isinstance(doc["size"], int) and doc["size"] > 0
        assert doc["mimeType"].startswith("application/")
        assert UTC_Z.match(doc["created"]) and doc["modified"] >= doc["created"]
        fields = doc["fields"]
        assert fields["DocumentType"] in {"proposal", "sow", "contract", "other"}
        assert int(fields["CustomerLookupId"]) in customers
        assert not set('"*:<>?/\\|') & set(fields["FileLeafRef"])
    per_customer = Counter(doc["fields"]["CustomerLookupId"] for doc in documents.values())
    assert max(per_customer.values()) <= 3
    assert {d["fields"]["DocumentType"] for d in documents.values()} >= {"proposal", "sow", "contract"}


def test_teamwork_companies_have_the_v3_shape_and_one_owner(generated: Generated) -> None:
    companies = generated.collection("teamwork", "companies")
    owners = [c for c in companies.values() if c["isOwner"]]
    assert [o["id"] for o in owners] == [1]
    assert owners[0]["name"] == "c360 Sandbox Services"
    for company_id, company in companies.items():
        assert set(company) == TW_COMPANY_KEYS
        assert company["id"] == company_id
        assert all(isinstance(company[k], str) for k in TW_TEXT_KEYS), "empty text is '' not null"
        assert company["name"]
        assert UTC_Z.match(company["createdAt"]) and company["updatedAt"] >= company["createdAt"]
    assert min(i for i in companies if i != 1) >= 195_000


def test_teamwork_projects_belong_to_customer_companies(generated: Generated) -> None:
    companies = generated.collection("teamwork", "companies")
    projects = generated.collection("teamwork", "projects")
    assert projects
    for project_id, project in projects.items():
        assert set(project) == TW_PROJECT_KEYS and project["id"] == project_id
        assert project["companyId"] in companies and project["companyId"] != 1
        assert project["status"] in {"active", "archived"}
        assert project["subStatus"] in {"current", "late", "upcoming", "completed"}
        assert YMD.match(project["startDate"]) and (project["endDate"] == "" or YMD.match(project["endDate"]))
        assert project["endDate"] == "" or project["endDate"] >= project["startDate"]
        assert isinstance(project["ownerId"], int) and project["ownerName"]
    per_company = Counter(p["companyId"] for p in projects.values())
    assert max(per_company.values()) <= 4
    assert {p["status"] for p in projects.values()} == {"active", "archived"}


def test_quickbooks_customers_have_the_customer_shape(generated: Generated) -> None:
    for key, customer in generated.collection("quickbooks", "customers").items():
        assert customer["Id"] == str(key)
        assert customer["SyncToken"].isdigit()
        assert customer["domain"] == "QBO" and customer["sparse"] is False
        assert customer["DisplayName"] and customer["FullyQualifiedName"] == customer["DisplayName"]
        assert isinstance(customer["Active"], bool)
        assert isinstance(customer["Balance"], float) and customer["BalanceWithJobs"] == customer["Balance"]
        assert customer["CurrencyRef"]["value"] == "USD"
        assert QBO_TIME.match(customer["MetaData"]["CreateTime"])
        meta = customer["MetaData"]
        assert datetime.fromisoformat(meta["LastUpdatedTime"]) >= datetime.fromisoformat(meta["CreateTime"])
        if "PrimaryEmailAddr" in customer:
            assert customer["PrimaryEmailAddr"]["Address"].strip()
        if "PrimaryPhone" in customer:
            assert customer["PrimaryPhone"]["FreeFormNumber"]
        if "BillAddr" in customer:
            assert customer["BillAddr"]["Id"] and len(customer["BillAddr"]) > 1
        assert "CompanyName" in customer or ("GivenName" in customer and "FamilyName" in customer)
    assert min(generated.collection("quickbooks", "customers")) == 1


def test_quickbooks_invoices_reference_customers_and_add_up(generated: Generated) -> None:
    customers = generated.collection("quickbooks", "customers")
    invoices = generated.collection("quickbooks", "invoices")
    assert invoices
    doc_numbers = set()
    for key, invoice in invoices.items():
        assert invoice["Id"] == str(key) and invoice["SyncToken"].isdigit()
        customer = customers[int(invoice["CustomerRef"]["value"])]
        assert invoice["CustomerRef"]["name"] == customer["DisplayName"]
        assert ISO_DATE.match(invoice["TxnDate"]) and invoice["DueDate"] >= invoice["TxnDate"]
        items = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
        assert items
        assert round(sum(line["Amount"] for line in items), 2) == invoice["TotalAmt"]
        assert 0 <= invoice["Balance"] <= invoice["TotalAmt"]
        assert QBO_TIME.match(invoice["MetaData"]["CreateTime"])
        doc_numbers.add(invoice["DocNumber"])
    assert len(doc_numbers) == len(invoices)
    assert max(Counter(i["CustomerRef"]["value"] for i in invoices.values()).values()) <= 8


def test_quickbooks_realm_id_is_stored_as_meta(generated: Generated) -> None:
    store = Store(generated.data_dir / "sandbox" / "quickbooks.sqlite3")
    try:
        assert store.get_meta("realm_id") == generated.credentials.quickbooks_realm_id
    finally:
        store.close()


def test_nothing_is_dated_after_the_seeds_as_of_instant(generated: Generated) -> None:
    limit = Timeline.for_seed(SEED).as_of
    stamps = [r["modified"] for r in generated.collection("sharepoint", "customers").values()]
    stamps += [c["updatedAt"] for c in generated.collection("teamwork", "companies").values()]
    stamps += [p["updatedAt"] for p in generated.collection("teamwork", "projects").values()]
    assert max(datetime.fromisoformat(s).timestamp() for s in stamps) <= limit
    qbo = [c["MetaData"]["LastUpdatedTime"] for c in generated.collection("quickbooks", "customers").values()]
    qbo += [i["MetaData"]["LastUpdatedTime"] for i in generated.collection("quickbooks", "invoices").values()]
    assert max(datetime.fromisoformat(s).timestamp() for s in qbo) <= limit


# --- business rules --------------------------------------------------------------------------


def test_quickbooks_display_names_are_unique_ignoring_case(generated: Generated) -> None:
    names = [c["DisplayName"].strip().casefold() for c in generated.collection("quickbooks", "customers").values()]
    assert len(names) == len(set(names))


def test_quickbooks_balance_is_the_sum_of_open_invoices(generated: Generated) -> None:
    open_cents: Counter[str] = Counter()
    for invoice in generated.collection("quickbooks", "invoices").values():
        open_cents[invoice["CustomerRef"]["value"]] += round(invoice["Balance"] * 100)
    for customer in generated.collection("quickbooks", "customers").values():
        assert round(customer["Balance"] * 100) == open_cents[customer["Id"]]
        if not customer["Active"]:
            assert customer["Balance"] == 0
    assert any(c["Balance"] > 0 for c in generated.collection("quickbooks", "customers").values())


def test_invoices_are_a_mix_of_paid_open_and_overdue(generated: Generated) -> None:
    today = as_of().date().isoformat()
    invoices = list(generated.collection("quickbooks", "invoices").values())
    assert any(i["Balance"] == 0 for i in invoices)
    assert any(i["Balance"] > 0 and i["DueDate"] < today for i in invoices), "some open invoices are overdue"
    assert any(0 < i["Balance"] < i["TotalAmt"] for i in invoices), "some are partly paid"


# --- ground truth and overlaps ---------------------------------------------------------------


def test_ground_truth_covers_every_customer_record_exactly_once(generated: Generated) -> None:
    rows = Counter((system, record_id) for _, system, record_id in generated.truth)
    assert max(rows.values()) == 1
    expected = {("sharepoint", str(i)) for i in generated.collection("sharepoint", "customers")}
    expected |= {("teamwork", str(i)) for i in generated.collection("teamwork", "companies") if i != 1}
    expected |= {("quickbooks", str(i)) for i in generated.collection("quickbooks", "customers")}
    assert set(rows) == expected
    assert len({entity for entity, _, _ in generated.truth}) == CUSTOMERS
    assert sum(generated.summary.records.values()) == len(generated.truth)


def test_customers_overlap_across_systems_like_a_real_lifecycle(generated: Generated) -> None:
    spread = generated.entities_by_system()
    in_all = [e for e, c in spread.items() if len(c) == 3]
    in_two = [e for e, c in spread.items() if len(c) == 2]
    quickbooks_only = [e for e, c in spread.items() if set(c) == {"quickbooks"}]
    sharepoint_only = [e for e, c in spread.items() if set(c) == {"sharepoint"}]
    assert len(in_all) > CUSTOMERS * 0.4
    assert in_two and quickbooks_only and sharepoint_only
    assert CUSTOMERS * 0.15 < len(sharepoint_only) < CUSTOMERS * 0.4  # mostly leads
    assert len(quickbooks_only) < CUSTOMERS * 0.12


def test_leads_exist_only_in_sharepoint(generated: Generated) -> None:
    sp = generated.collection("sharepoint", "customers")
    statuses: dict[str, set[str]] = defaultdict(set)
    for entity, system, record_id in generated.truth:
        if system == "sharepoint":
            statuses[entity].add(sp[int(record_id)]["fields"]["CustomerStatus"])
    spread = generated.entities_by_system()
    leads = [e for e, s in statuses.items() if s == {"lead"}]
    assert leads
    assert all(set(spread[e]) == {"sharepoint"} for e in leads)


def test_each_system_holds_some_duplicate_customers(generated: Generated) -> None:
    spread = generated.entities_by_system()
    for system in SYSTEMS:
        twice = [e for e, c in spread.items() if c[system] > 1]
        assert twice, system
        assert generated.summary.duplicates[system] == sum(spread[e][system] - 1 for e in twice)


def test_some_quickbooks_customers_are_inactive_and_some_are_people(generated: Generated) -> None:
    customers = list(generated.collection("quickbooks", "customers").values())
    assert any(not c["Active"] for c in customers)
    people = [c for c in customers if "CompanyName" not in c]
    assert 0.05 < len(people) / len(customers) < 0.4
    assert all("GivenName" in p and "FamilyName" in p for p in people)


def test_the_same_customer_is_written_differently_across_systems(generated: Generated) -> None:
    sp = generated.collection("sharepoint", "customers")
    tw = generated.collection("teamwork", "companies")
    qb = generated.collection("quickbooks", "customers")
    names: dict[str, set[str]] = defaultdict(set)
    phones: list[str] = []
    emails: dict[str, set[str]] = defaultdict(set)
    for entity, system, record_id in generated.truth:
        if system == "sharepoint":
            fields = sp[int(record_id)]["fields"]
            name, phone, email = fields["Title"], fields.get("Phone"), fields.get("EmailPrimary")
        elif system == "teamwork":
            company = tw[int(record_id)]
            name, phone, email = company["name"], company["phone"], company["emailOne"]
        else:
            customer = qb[int(record_id)]
            name = customer.get("CompanyName") or customer["DisplayName"]
            phone = customer.get("PrimaryPhone", {}).get("FreeFormNumber")
            email = customer.get("PrimaryEmailAddr", {}).get("Address")
        names[entity].add(name)
        if phone:
            phones.append(phone)
        if email:
            emails[entity].add(email)
    multi = [n for e, n in names.items() if len(generated.entities_by_system()[e]) > 1]
    varied = [n for n in multi if len(n) > 1]
    assert len(varied) > len(multi) * 0.2, "names vary between systems"
    assert any(len({n.casefold() for n in v}) < len(v) for v in varied), "some differ only in case"
    formats = {re.sub(r"\d", "9", p) for p in phones}
    assert {"(999) 999-9999", "999-999-9999", "+9 999 999 9999", "9999999999"} <= formats  # +1 masked too
    assert any(re.search(r"(x|ext\.?) ?\d+$", p) for p in phones), "some carry an extension"
    assert any(len({m.strip().casefold() for m in v}) < len(v) for v in emails.values()), "email case/space"


def test_person_customers_are_titled_with_their_name_in_sharepoint(generated: Generated) -> None:
    sp = generated.collection("sharepoint", "customers")
    qb = generated.collection("quickbooks", "customers")
    person_names: dict[str, str] = {}
    titles: dict[str, set[str]] = defaultdict(set)
    for entity, system, record_id in generated.truth:
        if system == "quickbooks" and "CompanyName" not in qb[int(record_id)]:
            person_names[entity] = f"{qb[int(record_id)]['GivenName']} {qb[int(record_id)]['FamilyName']}"
        elif system == "sharepoint":
            titles[entity].add(sp[int(record_id)]["fields"]["Title"])
    both = [e for e in person_names if e in titles]
    assert both
    assert sum(person_names[e] in titles[e] for e in both) > len(both) / 2


def test_summary_counts_match_what_was_stored(generated: Generated) -> None:
    summary = generated.summary
    assert summary.customers == CUSTOMERS and summary.seed == SEED
    assert summary.records["sharepoint"] == len(generated.collection("sharepoint", "customers"))
    assert summary.records["teamwork"] == len(generated.collection("teamwork", "companies")) - 1
    assert summary.records["quickbooks"] == len(generated.collection("quickbooks", "customers"))
    assert summary.projects == len(generated.collection("teamwork", "projects"))
    assert summary.invoices == len(generated.collection("quickbooks", "invoices"))
    assert summary.documents == len(generated.collection("sharepoint", "documents"))
    assert summary.inactive == sum(not c["Active"] for c in generated.collection("quickbooks", "customers").values())
    assert summary.seconds >= 0 and summary.as_dict()["total_records"] == summary.total_records
