"""QuickBooks records: customers and their invoices (sandbox/STORAGE.md, source-apis.md 3.3-3.4)."""

from __future__ import annotations

from random import Random
from typing import Any

from sandbox._gen_clock import DAY, Timeline, iso_date, pacific
from sandbox._gen_entity import Entity
from sandbox._gen_drift import RecordDrift
from sandbox._gen_mess import DUPLICATE_MESS, QUICKBOOKS_MESS, MessProfile, Projection, format_only, project
from sandbox._gen_sink import RecordSink
from sandbox._gen_words import SERVICE_ITEMS

_USD = {"value": "USD", "name": "United States Dollar"}
_FIRST_DOC_NUMBER = 1001


class DisplayNames:
    """QuickBooks' rule that a DisplayName is unique regardless of case (error 6240)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, name: str) -> str:
        """`name`, or the first free "name (2)", "name (3)"... the way bookkeepers work around 6240."""
        candidate, n = name, 2
        while candidate.strip().casefold() in self._taken:
            candidate, n = f"{name.rstrip()} ({n})", n + 1
        self._taken.add(candidate.strip().casefold())
        return candidate


class QuickBooksBuilder:
    """Writes customers (Ids from "1") and 0-8 invoices each; Balance = sum of open invoices."""

    def __init__(self, sink: RecordSink, rng: Random, timeline: Timeline, *, known_drift: bool = False) -> None:
        """`known_drift`: users make differences of form only, and value drift comes from `RecordDrift`s."""
        self._sink = sink
        self._rng = rng
        self._timeline = timeline
        self._known_drift = known_drift
        self._mess: MessProfile = format_only(QUICKBOOKS_MESS) if known_drift else QUICKBOOKS_MESS
        self._duplicate_mess: MessProfile = format_only(DUPLICATE_MESS) if known_drift else DUPLICATE_MESS
        self._names = DisplayNames()
        self._next_customer = 1
        self._next_invoice = 1
        self._next_address = 2  # QuickBooks numbers addresses on their own; 1 is the company's own
        self.customers = 0
        self.duplicates = 0
        self.invoices = 0
        self.inactive = 0

    def customer(self, entity: Entity, *, created: int, duplicate: bool = False, drift: RecordDrift | None = None) -> int:
        """Add one customer for `entity` with its invoices; returns the numeric Id."""
        rng = self._rng
        customer_id = self._next_customer
        self._next_customer += 1
        p = project(entity, self._duplicate_mess if duplicate else self._mess, rng)
        if drift is not None:
            p = drift.project(p, entity)
        # Known drift: a duplicate agrees with the first record on status.
        active = rng.random() < 0.8 if duplicate and not self._known_drift else entity.qb_active
        name = p.name.strip() or entity.name
        # The unique DisplayName first; QuickBooks then suffixes it when the customer is made inactive
        # (source-apis.md 3.3): "Acme (2) (deleted)", never "Acme (deleted) (2)".
        display = self._names.claim(name)
        if not active:
            display = f"{display} (deleted)"
        invoices, balance_cents = self._invoices(entity, customer_id, display, p, created, active, duplicate)
        edits = rng.choices(range(6), (4, 3, 2, 1, 1, 1))[0] + (0 if active else 1)
        updated = created if edits == 0 else rng.randint(created, self._timeline.as_of)
        balance = balance_cents / 100
        record: dict[str, Any] = {
            "Id": str(customer_id),
            "SyncToken": str(edits),
            "domain": "QBO",
            "sparse": False,
            "Active": active,
            "DisplayName": display,
            "FullyQualifiedName": display,
        }
        if not entity.is_person:
            record["CompanyName"] = name
        if p.given:
            record["GivenName"] = p.given
        if p.family:
            record["FamilyName"] = p.family
        if p.email:
            record["PrimaryEmailAddr"] = {"Address": p.email}
        if p.phone:
            record["PrimaryPhone"] = {"FreeFormNumber": p.phone}
        website = drift.website(entity, None) if drift is not None else None
        if website:
            record["WebAddr"] = {"URI": website}
        bill_addr = self._bill_addr(p)
        if bill_addr:
            record["BillAddr"] = bill_addr
        record.update(
            {
                "Job": False,
                "Taxable": not entity.is_person and rng.random() < 0.35,
                "Balance": balance,
                "BalanceWithJobs": balance,
                "CurrencyRef": dict(_USD),
                "MetaData": {"CreateTime": pacific(created), "LastUpdatedTime": pacific(updated)},
            }
        )
        self._sink.add("customers", customer_id, record)
        for invoice_id, invoice in invoices:
            self._sink.add("invoices", invoice_id, invoice)
        self.customers += 1
        self.duplicates += duplicate
        self.inactive += not active
        return customer_id

    def _bill_addr(self, p: Projection) -> dict[str, str] | None:
        if not (p.line1 or p.city):
            return None
        addr = {"Id": str(self._next_address)}
        self._next_address += 1
        for key, value in (
            ("Line1", p.line1),
            ("Line2", p.line2),
            ("City", p.city),
            ("CountrySubDivisionCode", p.state),
            ("PostalCode", p.zip),
        ):
            if value:
                addr[key] = value
        country = self._rng.choices(("USA", "US", "United States", ""), (6, 2, 1, 3))[0]
        if country:
            addr["Country"] = country
        return addr

    def _invoices(
        self, entity: Entity, customer_id: int, display: str, p: Projection, created: int, active: bool, duplicate: bool
    ) -> tuple[list[tuple[int, dict[str, Any]]], int]:
        rng = self._rng
        as_of = self._timeline.as_of
        if duplicate:
            count = rng.choices((0, 1, 2), (6, 3, 1))[0]
        elif entity.lifecycle == "walkin":
            count = rng.choices((1, 2, 3), (6, 3, 1))[0]
        else:
            count = rng.choices(range(9), (8, 10, 14, 16, 16, 12, 10, 8, 6))[0]
        dates = sorted(rng.randint(created, as_of) for _ in range(count))
        result: list[tuple[int, dict[str, Any]]] = []
        balance_cents = 0
        for txn in dates:
            lines, total_cents = _lines(rng)
            due = txn + rng.choice((15, 30, 30, 30, 45)) * DAY
            if not active:
                # QuickBooks will not deactivate a customer with an open balance.
                open_cents = 0
            elif due < as_of:
                open_cents = total_cents if rng.random() < 0.10 else 0  # overdue
            else:
                open_cents = total_cents if rng.random() < 0.7 else 0
            if open_cents and rng.random() < 0.15:
                open_cents = total_cents - rng.randint(1, max(1, total_cents // 100 - 1)) * 100
            paid_at = min(as_of, txn + rng.randint(1, 60) * DAY)
            invoice_id = self._next_invoice
            self._next_invoice += 1
            invoice: dict[str, Any] = {
                "Id": str(invoice_id),
                "SyncToken": "0" if open_cents == total_cents else str(rng.randint(1, 3)),
                "domain": "QBO",
                "sparse": False,
                "DocNumber": str(_FIRST_DOC_NUMBER + invoice_id - 1),
                "TxnDate": iso_date(txn),
                "DueDate": iso_date(due),
                "TotalAmt": total_cents / 100,
                "Balance": open_cents / 100,
                "CustomerRef": {"value": str(customer_id), "name": display},
                "CurrencyRef": dict(_USD),
            }
            if p.email:
                invoice["BillEmail"] = {"Address": p.email.strip()}
            invoice["EmailStatus"] = "EmailSent" if p.email and rng.random() < 0.9 else "NotSet"
            invoice["MetaData"] = {
                "CreateTime": pacific(txn),
                "LastUpdatedTime": pacific(txn if open_cents == total_cents else paid_at),
            }
            invoice["Line"] = lines
            result.append((invoice_id, invoice))
            balance_cents += open_cents
        self.invoices += count
        return result, balance_cents


def _lines(rng: Random) -> tuple[list[dict[str, Any]], int]:
    lines: list[dict[str, Any]] = []
    total = 0
    for n in range(1, rng.choices((1, 2, 3, 4), (4, 3, 2, 1))[0] + 1):
        item, item_id, rates = rng.choice(SERVICE_ITEMS)
        rate_cents = int(rng.choice(rates) * 100)
        qty = rng.choice((1, 1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40)) if rate_cents < 40_000 else 1
        amount = rate_cents * qty
        total += amount
        lines.append(
            {
                "Id": str(n),
                "LineNum": n,
                "Amount": amount / 100,
                "Description": item,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item_id, "name": item},
                    "Qty": qty,
                    "UnitPrice": rate_cents / 100,
                },
            }
        )
    lines.append({"Amount": total / 100, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    return lines, total
