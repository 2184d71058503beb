"""The simulated company's books: customers and invoices with QuickBooks' business rules.

Records are kept in their stored shape (sandbox/STORAGE.md) and every rule that a
client can observe lives here: SyncToken checks, unique DisplayName, required and
too-long fields, and Balance = the sum of open invoice balances.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox._json import json_copy
from sandbox._store import Store
from sandbox.quickbooks import fidelity
from sandbox.quickbooks._query import QuerySyntaxError, parse
from sandbox.quickbooks._select import Page, QueryValidationError, run
from sandbox.quickbooks._wire import COMPANY_TZ, QboFault, meta_time

_NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
_TEXT_FIELDS = frozenset({*_NAME_PARTS, "DisplayName", "CompanyName", "Notes", "PrintOnCheckName",
                          "PreferredDeliveryMethod"})
_BOOL_FIELDS = frozenset({"Active", "Job", "BillWithParent", "Taxable"})
_OBJECT_FIELDS = {
    "PrimaryEmailAddr": "Address", "PrimaryPhone": "FreeFormNumber", "Mobile": "FreeFormNumber",
    "Fax": "FreeFormNumber", "AlternatePhone": "FreeFormNumber", "WebAddr": "URI",
    "ParentRef": "value", "CurrencyRef": "value",
}
_ADDRESS_FIELDS = frozenset({"BillAddr", "ShipAddr"})
_ADDRESS_KEYS = frozenset({"Id", "Line1", "Line2", "Line3", "Line4", "Line5", "City", "Country",
                           "CountrySubDivisionCode", "PostalCode", "Lat", "Long"})
_STALE_DETAIL = (
    "Stale Object Error : You and Jane Doe were working on this at the same time. "
    "Jane Doe finished before you did, so your work was not saved."
)
_NOT_FOUND_DETAIL = (
    "Object Not Found : Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)


log = logging.getLogger("sandbox.quickbooks")


@dataclass(frozen=True)
class EntityChange:
    """One change to the books, as a webhook names it: `Customer` 58 `Update` at its LastUpdatedTime."""

    entity: str
    id: str
    operation: str
    last_updated: str


def not_found(element: str = "") -> QboFault:
    return QboFault("610", "Object Not Found", _NOT_FOUND_DETAIL, element=element)


def required(element: str, detail: str | None = None) -> QboFault:
    return QboFault(
        "2020", "Required param missing, need to supply the required value for the API",
        detail or f"Required parameter {element} is missing in the request", element=element,
    )


def invalid(element: str, detail: str) -> QboFault:
    return QboFault("2010", "Request has invalid or unsupported property", detail, element=element)


class Books:
    """Customers and invoices of one company, with the rules a client can observe."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self.customers = store.collection("customers")
        self.invoices = store.collection("invoices")
        #: Stubs of deleted invoices, for CDC (`{"domain", "status": "Deleted", "Id", "MetaData"}`).
        self.deleted_invoices = store.collection("deleted_invoices")
        #: Told about every change made through the API (webhooks); balance upkeep is not a change.
        self.listeners: list[Callable[[EntityChange], None]] = []
        for stub in self.deleted_invoices.all():
            self.invoices.reserve_through(int(stub["Id"]))  # QuickBooks never hands out an Id again
        self.reconcile_balances()

    def _changed(self, entity: str, record: Mapping[str, Any], operation: str) -> None:
        change = EntityChange(entity, str(record["Id"]), operation, str(record["MetaData"]["LastUpdatedTime"]))
        for listener in self.listeners:
            try:
                listener(change)
            except Exception:  # a webhook problem must never fail the write that caused it
                log.exception("change listener failed", extra={"entity": entity})

    # --- reading -------------------------------------------------------------------------

    def customer(self, record_id: object) -> dict[str, Any]:
        stored = self.customers.get(_int_id(record_id))
        if stored is None:
            raise not_found()
        return stored

    def invoice(self, record_id: object) -> dict[str, Any]:
        stored = self.invoices.get(_int_id(record_id))
        if stored is None:
            raise not_found()
        return stored

    def query(self, text: str) -> dict[str, Any]:
        """The `QueryResponse` object for one query text."""
        try:
            query = parse(text)
            entity = query.entity.lower()
            result = run(query, self.customers if entity == "customer" else self.invoices)
        except QuerySyntaxError as exc:
            raise QboFault(*fidelity.QUERY_PARSE_FAULT, str(exc)) from None
        except QueryValidationError as exc:
            raise QboFault(*fidelity.QUERY_NOT_QUERYABLE_FAULT, str(exc)) from None
        if isinstance(result, int):
            return {"totalCount": result}
        return self._page(result)

    def _page(self, page: Page) -> dict[str, Any]:
        if not page.rows:
            return {}
        render = render_customer if page.entity == "Customer" else json_copy
        rows = [render(r) for r in page.rows]
        size = len(rows) if fidelity.RESPONSE_MAX_RESULTS_IS_COUNT else fidelity.MAX_MAX_RESULTS
        return {page.entity: rows, "startPosition": page.start_position, "maxResults": size}

    # --- customers -----------------------------------------------------------------------

    def save_customer(self, body: Any) -> dict[str, Any]:
        """POST /customer: create without Id, full or sparse update with Id and SyncToken."""
        if not isinstance(body, Mapping):
            raise invalid("Customer", "The request body must be a Customer object")
        if body.get("Id") not in (None, ""):
            return self._update_customer(body)
        return self._create_customer(body)

    def _create_customer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        values = _clean_customer_fields(body)
        _derive_display_name(values)
        self._check_unique_name(values["DisplayName"], None)
        record_id = self.customers.allocate_id()
        now = meta_time(self.clock())
        record: dict[str, Any] = {
            "Id": str(record_id), "SyncToken": "0", "domain": "QBO", "sparse": False,
            "Active": True, "Job": False, "BillWithParent": False, "Taxable": False,
            "Balance": 0.0, "BalanceWithJobs": 0.0, "CurrencyRef": dict(fidelity.DEFAULT_CURRENCY),
            **values, "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
        }
        self._finish_customer(record, None)
        self.customers.put(record_id, record)
        self._changed("Customer", record, "Create")
        return render_customer(record)

    def _update_customer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        current = self.customer(body["Id"])
        token = body.get("SyncToken")
        if token in (None, ""):
            raise required("SyncToken")
        if str(token) != current["SyncToken"]:
            raise QboFault("5010", "Stale Object Error", _STALE_DETAIL)
        values = _clean_customer_fields(body)
        record = copy.deepcopy(current)
        if body.get("sparse") is True:
            for key in fidelity.CUSTOMER_WRITABLE & body.keys():
                record.pop(key, None)
        else:
            for key in fidelity.CUSTOMER_WRITABLE - {"Active", "Job", "BillWithParent", "Taxable", "CurrencyRef"}:
                record.pop(key, None)
        record.update(values)
        _derive_display_name(record)
        self._check_unique_name(record["DisplayName"], current["Id"])
        record["SyncToken"] = str(int(current["SyncToken"]) + 1)
        record["MetaData"] = {**current.get("MetaData", {}), "LastUpdatedTime": meta_time(self.clock())}
        self._finish_customer(record, current)
        self.customers.put(int(record["Id"]), record)
        if (current.get("ParentRef") or {}).get("value") != (record.get("ParentRef") or {}).get("value"):
            self._recompute_balance(current.get("ParentRef", {}).get("value"))
        self._recompute_balance(record["Id"])
        made_inactive = current.get("Active", True) is not False and record.get("Active", True) is False
        self._changed("Customer", record, fidelity.INACTIVATED_OPERATION if made_inactive else "Update")
        return render_customer(self.customers.get(int(record["Id"])) or record)

    def _finish_customer(self, record: dict[str, Any], previous: Mapping[str, Any] | None) -> None:
        """Derived fields: FullyQualifiedName, Job, address ids."""
        parent_ref = record.get("ParentRef")
        if parent_ref:
            parent = self.customers.get(_int_id(parent_ref.get("value"), "ParentRef"))
            if parent is None or parent["Id"] == record.get("Id"):
                raise QboFault("2500", "Invalid Reference Id", "Invalid Reference Id : ParentRef", element="ParentRef")
            record["Job"] = True
            record["FullyQualifiedName"] = f"{parent.get('FullyQualifiedName') or parent['DisplayName']}:{record['DisplayName']}"
        else:
            record["Job"] = False
            record["FullyQualifiedName"] = record["DisplayName"]
        for key in _ADDRESS_FIELDS:
            addr = record.get(key)
            if addr is not None and not addr.get("Id"):
                old = (previous or {}).get(key) or {}
                addr["Id"] = old.get("Id") or self._next_seq("address_seq")

    def _check_unique_name(self, name: str, own_id: str | None) -> None:
        for other in self.customers.find("unique-name", _unique_name_key, [name.strip().casefold()]):
            if other["Id"] != own_id:
                raise QboFault(
                    "6240", "Duplicate Name Exists Error",
                    "The name supplied already exists. : Another customer, vendor or employee is already "
                    f"using this name (Id={other['Id']}). Please use a different name.",
                    element="DisplayName",
                )

    def _next_seq(self, key: str, start: int = 1) -> str:
        value = int(self.store.get_meta(key) or start - 1) + 1
        self.store.set_meta(key, str(value))
        return str(value)

    # --- invoices --------------------------------------------------------------------------

    def save_invoice(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise invalid("Invoice", "The request body must be an Invoice object")
        if body.get("Id") not in (None, ""):
            return self._update_invoice(body)
        customer_id = _ref_value(body.get("CustomerRef"))
        if customer_id is None:
            raise required("CustomerRef")
        customer = self.customers.get(_int_id(customer_id, "CustomerRef"))
        if customer is None or customer.get("Active") is False:
            raise QboFault("2500", "Invalid Reference Id",
                           f"Invalid Reference Id : Customer {customer_id} is missing or inactive",
                           element="CustomerRef")
        lines = _invoice_lines(body.get("Line"))
        total = sum((_amount(line) for line in lines if line["DetailType"] == "SalesItemLineDetail"), Decimal(0))
        txn_date = _date_field(body, "TxnDate") or self.clock().astimezone(COMPANY_TZ).date()
        due_date = _date_field(body, "DueDate") or txn_date + timedelta(days=30)
        record_id = self.invoices.allocate_id()
        now = meta_time(self.clock())
        record: dict[str, Any] = {
            "Id": str(record_id), "SyncToken": "0", "domain": "QBO", "sparse": False,
            "DocNumber": str(body.get("DocNumber") or self._next_seq("docnumber_seq", 1001)),
            "TxnDate": txn_date.isoformat(), "DueDate": due_date.isoformat(),
            "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
            "CurrencyRef": dict(fidelity.DEFAULT_CURRENCY), "EmailStatus": "NotSet",
            "Line": [*lines, {"Amount": float(total), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}],
            "TotalAmt": float(total), "Balance": float(total),
            "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
        }
        if isinstance(body.get("BillEmail"), Mapping) and body["BillEmail"].get("Address"):
            record["BillEmail"] = {"Address": str(body["BillEmail"]["Address"])}
        self.invoices.put(record_id, record)
        self._recompute_balance(customer["Id"])
        self._changed("Invoice", record, "Create")
        return copy.deepcopy(record)

    def _update_invoice(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Only DocNumber, dates, BillEmail and Line are writable here; omitted fields stay."""
        current = self.invoice(body["Id"])
        if body.get("SyncToken") in (None, ""):
            raise required("SyncToken")
        if str(body["SyncToken"]) != current["SyncToken"]:
            raise QboFault("5010", "Stale Object Error", _STALE_DETAIL)
        record = copy.deepcopy(current)
        for key in ("DocNumber",):
            if body.get(key):
                record[key] = str(body[key])
        for key in ("TxnDate", "DueDate"):
            if (value := _date_field(body, key)) is not None:
                record[key] = value.isoformat()
        if isinstance(body.get("BillEmail"), Mapping):
            record["BillEmail"] = {"Address": str(body["BillEmail"].get("Address") or "")}
        if body.get("Line") is not None:
            lines = _invoice_lines(body["Line"])
            total = sum((_amount(x) for x in lines if x["DetailType"] == "SalesItemLineDetail"), Decimal(0))
            paid = Decimal(str(current["TotalAmt"])) - Decimal(str(current["Balance"]))
            record["Line"] = [*lines, {"Amount": float(total), "DetailType": "SubTotalLineDetail",
                                       "SubTotalLineDetail": {}}]
            record["TotalAmt"] = float(total)
            record["Balance"] = float(max(Decimal(0), total - paid))
        self._touch(record)
        self.invoices.put(int(record["Id"]), record)
        self._recompute_balance(record["CustomerRef"]["value"])
        self._changed("Invoice", record, "Update")
        return copy.deepcopy(record)

    def delete_invoice(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping) or body.get("Id") in (None, ""):
            raise required("Id")
        current = self.invoice(body["Id"])
        if str(body.get("SyncToken")) != current["SyncToken"]:
            raise QboFault("5010", "Stale Object Error", _STALE_DETAIL)
        self.invoices.delete(int(current["Id"]))
        stub = {"domain": "QBO", "status": "Deleted", "Id": current["Id"],
                "MetaData": {"LastUpdatedTime": meta_time(self.clock())}}
        self.deleted_invoices.put(int(current["Id"]), stub)
        self._recompute_balance(current["CustomerRef"]["value"])
        self._changed("Invoice", stub, "Delete")
        return {"domain": "QBO", "status": "Deleted", "Id": current["Id"]}

    def record_payment(self, invoice_id: object, amount: Decimal) -> dict[str, Any]:
        """Out of band, as a person receiving a payment in the UI: lowers the invoice's Balance."""
        record = copy.deepcopy(self.invoice(invoice_id))
        record["Balance"] = float(max(Decimal(0), Decimal(str(record["Balance"])) - amount))
        self._touch(record)
        self.invoices.put(int(record["Id"]), record)
        self._recompute_balance(record["CustomerRef"]["value"])
        self._changed("Invoice", record, "Update")
        return copy.deepcopy(record)

    def _touch(self, record: dict[str, Any]) -> None:
        record["SyncToken"] = str(int(record["SyncToken"]) + 1)
        record["MetaData"] = {**record.get("MetaData", {}), "LastUpdatedTime": meta_time(self.clock())}

    # --- balances ----------------------------------------------------------------------------

    def _recompute_balance(self, customer_id: object) -> None:
        """Balance of one customer and BalanceWithJobs up its parent chain."""
        seen: set[int] = set()
        while customer_id not in (None, ""):
            key = int(str(customer_id))
            record = self.customers.get(key)
            if record is None or key in seen:
                return
            seen.add(key)
            invoices = self.invoices.find("customer-ref", _customer_ref_key, [record["Id"]])
            jobs_of = self.customers.find("parent-ref", _parent_ref_key, [record["Id"]])
            own = sum((Decimal(str(i.get("Balance", 0))) for i in invoices), Decimal(0))
            jobs = sum((Decimal(str(c.get("BalanceWithJobs", 0))) for c in jobs_of), Decimal(0))
            self._set_balance(record, own, own + jobs)
            customer_id = _ref_value(record.get("ParentRef"))

    def reconcile_balances(self) -> None:
        """Make every stored Balance agree with the invoices (run once at start)."""
        own: dict[str, Decimal] = {}
        for inv in self.invoices.all():
            ref = _ref_value(inv.get("CustomerRef"))
            if ref is not None:
                own[ref] = own.get(ref, Decimal(0)) + Decimal(str(inv.get("Balance", 0)))
        children: dict[str, list[str]] = {}
        for c in self.customers.all():
            parent = _ref_value(c.get("ParentRef"))
            if parent is not None:
                children.setdefault(parent, []).append(c["Id"])

        def with_jobs(cid: str, depth: int = 0) -> Decimal:
            if depth > 20:
                return Decimal(0)
            return own.get(cid, Decimal(0)) + sum((with_jobs(k, depth + 1) for k in children.get(cid, [])), Decimal(0))

        for c in list(self.customers.all()):
            self._set_balance(c, own.get(c["Id"], Decimal(0)), with_jobs(c["Id"]))

    def _set_balance(self, record: dict[str, Any], own: Decimal, with_jobs: Decimal) -> None:
        balance, total = float(round(own, 2)), float(round(with_jobs, 2))
        if record.get("Balance") == balance and record.get("BalanceWithJobs") == total:
            return
        updated = {**record, "Balance": balance, "BalanceWithJobs": total}
        if fidelity.BALANCE_CHANGE_BUMPS_SYNC_TOKEN:
            self._touch(updated)
        self.customers.put(int(record["Id"]), updated)


def render_customer(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The wire form of a stored customer (a copy; optional ' (deleted)' suffix)."""
    wire: dict[str, Any] = json_copy(dict(stored))
    if fidelity.APPEND_DELETED_SUFFIX and wire.get("Active") is False:
        wire["DisplayName"] = f"{wire['DisplayName']}{fidelity.DELETED_SUFFIX}"
    return wire


def _int_id(value: object, element: str = "Id") -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise not_found(element) from None
    if number < 1:
        raise not_found(element)
    return number


def _ref_value(ref: Any) -> str | None:
    if isinstance(ref, Mapping) and ref.get("value") not in (None, ""):
        return str(ref["value"])
    return None


# Index keys (sandbox._store.Collection.find): writes look records up by these instead of scanning.

def _unique_name_key(customer: Mapping[str, Any]) -> tuple[str | None]:
    """DisplayName as the duplicate-name rule compares it (trimmed, case-folded)."""
    name = customer.get("DisplayName", "")
    return (name.strip().casefold() if isinstance(name, str) else None,)


def _customer_ref_key(invoice: Mapping[str, Any]) -> tuple[str | None]:
    """The customer whose Balance an invoice counts towards."""
    return (_ref_value(invoice.get("CustomerRef")),)


def _parent_ref_key(customer: Mapping[str, Any]) -> tuple[str | None]:
    """The parent whose BalanceWithJobs a sub-customer counts towards."""
    return (_ref_value(customer.get("ParentRef")),)


def _clean_customer_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """Writable fields of a request body, type-checked, with empty values dropped."""
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key in fidelity.CUSTOMER_READ_ONLY:
            continue
        if key not in fidelity.CUSTOMER_WRITABLE:
            raise invalid(key, f"Property Name:{key} specified is unsupported or invalid")
        if value is None or value == "":
            continue
        if key in _TEXT_FIELDS:
            if not isinstance(value, str):
                raise invalid(key, f"Property Name:{key} must be a string")
            value = value.strip()
            if value:
                _check_length(key, value)
                values[key] = value
        elif key in _BOOL_FIELDS:
            if not isinstance(value, bool):
                raise invalid(key, f"Property Name:{key} must be true or false")
            values[key] = value
        elif key in _OBJECT_FIELDS:
            inner = _OBJECT_FIELDS[key]
            if not isinstance(value, Mapping) or not isinstance(value.get(inner, ""), (str, type(None))):
                raise invalid(key, f"Property Name:{key} must be an object with {inner}")
            text = (value.get(inner) or "").strip()
            if text:
                _check_length(f"{key}.{inner}", text)
                values[key] = {**{k: v for k, v in value.items() if v not in (None, "")}, inner: text}
        elif key in _ADDRESS_FIELDS:
            if not isinstance(value, Mapping):
                raise invalid(key, f"Property Name:{key} must be an address object")
            addr: dict[str, str] = {}
            for part, text in value.items():
                if part not in _ADDRESS_KEYS:
                    raise invalid(f"{key}.{part}", f"Property Name:{part} specified is unsupported or invalid")
                if text not in (None, ""):
                    _check_length(f"{key}.{part}", str(text))
                    addr[part] = str(text)
            if any(k != "Id" for k in addr):
                values[key] = addr
        else:
            values[key] = copy.deepcopy(value)
    return values


def _check_length(element: str, value: str) -> None:
    limit = fidelity.FIELD_MAX_LENGTHS.get(element)
    if limit is not None and len(value) > limit:
        raise QboFault(
            "2050", "String length is either shorter or longer than supported by specification",
            f"String length specified does not match the supported length. Min:0 Max:{limit} supported. "
            f"Supplied length:{len(value)}",
            element=element,
        )


def _derive_display_name(values: dict[str, Any]) -> None:
    if values.get("DisplayName"):
        return
    parts = [values[k] for k in _NAME_PARTS if values.get(k)]
    if not parts:
        raise required(
            "DisplayName",
            "Required parameter DisplayName or one of Title, GivenName, MiddleName, FamilyName, Suffix is missing",
        )
    name = " ".join(parts)
    _check_length("DisplayName", name)
    values["DisplayName"] = name


def _invoice_lines(lines: Any) -> list[dict[str, Any]]:
    if not isinstance(lines, list) or not lines:
        raise required("Line")
    out: list[dict[str, Any]] = []
    for raw in lines:
        if not isinstance(raw, Mapping):
            raise invalid("Line", "Each Line must be an object")
        if raw.get("DetailType") == "SubTotalLineDetail":
            continue
        detail_type = raw.get("DetailType") or "SalesItemLineDetail"
        line = {k: copy.deepcopy(v) for k, v in raw.items() if k not in ("Id", "LineNum")}
        line.update({"Id": str(len(out) + 1), "LineNum": len(out) + 1, "DetailType": detail_type,
                     "Amount": float(_amount(raw))})
        out.append(line)
    if not out:
        raise required("Line")
    return out


def _amount(line: Mapping[str, Any]) -> Decimal:
    try:
        amount = Decimal(str(line.get("Amount")))
    except InvalidOperation:
        raise invalid("Line.Amount", "Amount must be a number") from None
    if not amount.is_finite():
        raise invalid("Line.Amount", "Amount must be a number")
    return amount


def _date_field(body: Mapping[str, Any], key: str) -> date | None:
    value = body.get(key)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise invalid(key, f"{key} must be a date like 2024-05-01") from None
