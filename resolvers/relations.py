"""GraphQL types of a customer's relationships in each system: projects, invoices, documents.

They are read live, per request, through the relation DataLoaders of `resolvers.context`,
so a page of customers asks each system once per relation. Invoice status is computed
here (not stored anywhere), from the open balance and the due date against the
request's `today`.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from enum import Enum
import strawberry

from connectors import Document as DocumentRecord
from connectors import Invoice as InvoiceRecord
from connectors import Project as ProjectRecord
from connectors import SystemName
from resolvers.errors import bad_input
from resolvers.pagination import decode_cursor, encode_cursor


@strawberry.enum(description="Where an invoice stands on a given day.")
class InvoiceStatus(Enum):
    OPEN = "open"
    OVERDUE = "overdue"
    PAID = "paid"


@strawberry.enum(description="What a customer document is, as the CRM's document library classifies it.")
class DocumentType(Enum):
    PROPOSAL = "proposal"
    SOW = "sow"
    CONTRACT = "contract"
    OTHER = "other"


def invoice_status(invoice: InvoiceRecord, today: datetime.date) -> InvoiceStatus:
    """PAID when nothing is owed; OVERDUE when something is owed after the due date; else OPEN."""
    if not invoice.is_open:
        return InvoiceStatus.PAID
    if invoice.due_date is not None and invoice.due_date < today:
        return InvoiceStatus.OVERDUE
    return InvoiceStatus.OPEN


def document_type(value: str | None) -> DocumentType:
    """The library's choice column; anything unknown (or blank) is OTHER rather than an error."""
    try:
        return DocumentType((value or "").strip().lower())
    except ValueError:
        return DocumentType.OTHER


@strawberry.type(description="A project of the customer in the project-management system (Teamwork).")
class Project:
    system: strawberry.Private[SystemName]
    id: strawberry.ID
    name: str
    status: str | None = strawberry.field(description="The system's own status, e.g. active, completed, archived.")
    start_date: datetime.date | None
    end_date: datetime.date | None
    owner: str | None = strawberry.field(description="The project owner's name.")
    url: str | None

    @classmethod
    def from_record(cls, project: ProjectRecord) -> Project:
        return cls(
            system=project.system,
            id=strawberry.ID(project.id),
            name=project.name,
            status=project.status,
            start_date=project.start_date,
            end_date=project.end_date,
            owner=project.owner,
            url=project.url,
        )


@strawberry.type(description="An invoice of the customer in the accounting system (QuickBooks Online).")
class Invoice:
    system: strawberry.Private[SystemName]
    id: strawberry.ID
    number: str | None
    date: datetime.date | None
    due_date: datetime.date | None
    total: Decimal
    balance: Decimal = strawberry.field(description="What is still owed on this invoice.")
    currency: str | None
    status: InvoiceStatus = strawberry.field(description="Computed from the balance and the due date, today.")
    url: str | None

    @classmethod
    def from_record(cls, invoice: InvoiceRecord, today: datetime.date) -> Invoice:
        return cls(
            system=invoice.system,
            id=strawberry.ID(invoice.id),
            number=invoice.number,
            date=invoice.date,
            due_date=invoice.due_date,
            total=invoice.total,
            balance=invoice.balance,
            currency=invoice.currency,
            status=invoice_status(invoice, today),
            url=invoice.url,
        )


@strawberry.type(description="A file about the customer in the CRM's document library (SharePoint).")
class Document:
    id: strawberry.ID
    name: str
    type: DocumentType
    url: str | None
    modified: datetime.datetime | None

    @classmethod
    def from_record(cls, document: DocumentRecord) -> Document:
        return cls(
            id=strawberry.ID(document.id),
            name=document.name,
            type=document_type(document.document_type),
            url=document.url,
            modified=document.modified,
        )


@strawberry.input(description="Which of a customer's invoices to list.")
class InvoiceFilter:
    status: list[InvoiceStatus] | None = strawberry.field(
        default=None, description="Keep invoices in any of these statuses (a single value is accepted)."
    )


# --- newest-first keyset paging of a customer's invoices --------------------------------------

InvoiceKey = tuple[int, str, int, str]


def invoice_key(invoice: Invoice) -> InvoiceKey:
    """Newest first: by date, then by id (numeric ids compare as numbers), system last for a total order."""
    day = invoice.date.toordinal() if invoice.date else 0
    return (day, str(invoice.system), len(invoice.id), str(invoice.id))


def invoice_cursor(invoice: Invoice) -> str:
    # The cursor is the sort key, not a position: a page stays right when invoices are added meanwhile.
    return encode_cursor("invoice", json.dumps(invoice_key(invoice)))


def decode_invoice_cursor(cursor: str) -> InvoiceKey:
    value = decode_cursor(cursor, "invoice")
    try:
        day, system, length, ident = json.loads(value)
        return (int(day), str(system), int(length), str(ident))
    except (ValueError, TypeError):
        raise bad_input("`after` is not a cursor returned by this query", "after") from None


def invoice_page(
    invoices: list[Invoice], first: int, after: str | None
) -> tuple[list[Invoice], bool]:
    """`first` invoices after the cursor, newest first, and whether more follow."""
    ordered = sorted(invoices, key=invoice_key, reverse=True)
    if after is not None:
        start = decode_invoice_cursor(after)
        ordered = [inv for inv in ordered if invoice_key(inv) < start]
    return ordered[:first], len(ordered) > first
