"""python-quickbooks + intuit-oauth (Intuit's own OAuth client), unchanged, against the QuickBooks simulator.

Only configuration differs from production use: the discovery document URL given to
AuthClient, the library's `api_url_v3`, and oauthlib's switch for plain-http servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

pytest.importorskip("quickbooks", reason="python-quickbooks is not installed (pip install python-quickbooks)")
pytest.importorskip("intuitlib", reason="intuit-oauth is not installed (pip install intuit-oauth)")

from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.batch import batch_create, batch_update
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import (
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
)
from quickbooks.objects.base import EmailAddress, Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer

MINOR_VERSION = 75


@pytest.fixture
def auth_client(intuit_discovery_url: str, credentials: SandboxCredentials) -> Iterator[AuthClient]:
    client = AuthClient(
        client_id=credentials.quickbooks_client_id,
        client_secret=credentials.quickbooks_client_secret,
        redirect_uri="http://127.0.0.1/callback",
        environment=intuit_discovery_url,
        realm_id=credentials.quickbooks_realm_id,
    )
    yield client
    client.close()


@pytest.fixture
def qb(
    auth_client: AuthClient, qbo_server: ThreadedServer, credentials: SandboxCredentials, oauthlib_allows_http: None
) -> Iterator[QuickBooks]:
    """A QuickBooks client as its README builds one; creating it refreshes the token through AuthClient."""
    client = QuickBooks(
        auth_client=auth_client,
        refresh_token=credentials.quickbooks_refresh_token,
        company_id=credentials.quickbooks_realm_id,
        minorversion=MINOR_VERSION,
    )
    # The library builds every URL as f"{api_url}/company/{realm}/..."; production would be
    # https://quickbooks.api.intuit.com/v3.
    client.api_url_v3 = f"{qbo_server.url}/v3"
    yield client
    client.session.close()  # lets the simulator stop without waiting on a keep-alive connection


def new_customer(name: str, email: str | None = None) -> Customer:
    customer = Customer()
    customer.DisplayName = name
    customer.CompanyName = name
    if email is not None:
        customer.PrimaryEmailAddr = EmailAddress()
        customer.PrimaryEmailAddr.Address = email
    return customer


def new_invoice(customer: Customer, amount: float) -> Invoice:
    line = SalesItemLine()
    line.Amount = amount
    line.Description = "Lesson"
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = Ref()
    line.SalesItemLineDetail.ItemRef.value = "1"
    line.SalesItemLineDetail.ItemRef.name = "Services"
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line.append(line)
    return invoice


def test_auth_client_refresh_rotates_refresh_token(auth_client: AuthClient, credentials: SandboxCredentials) -> None:
    """AuthClient.refresh: Basic client auth, form body, token fields set on the client; tokens rotate."""
    auth_client.refresh(refresh_token=credentials.quickbooks_refresh_token)
    first_refresh = auth_client.refresh_token
    assert auth_client.access_token
    assert auth_client.expires_in == 3600
    assert auth_client.x_refresh_token_expires_in > 0
    assert first_refresh and first_refresh != credentials.quickbooks_refresh_token

    auth_client.refresh()  # with the stored (rotated) refresh token
    assert auth_client.refresh_token != first_refresh


def test_auth_client_unknown_refresh_token_is_invalid_grant(auth_client: AuthClient) -> None:
    with pytest.raises(AuthClientError) as info:
        auth_client.refresh(refresh_token="AB11not-a-token")
    assert info.value.status_code == 400
    assert b"invalid_grant" in info.value.content


def test_quickbooks_client_session_uses_refreshed_token(qb: QuickBooks, auth_client: AuthClient) -> None:
    """QuickBooks(auth_client=...) refreshes once and keeps the rotated refresh token."""
    assert qb.session is not None
    assert qb.refresh_token == auth_client.refresh_token
    assert Customer.count(qb=qb) == 0


def test_create_then_get_by_id(qb: QuickBooks) -> None:
    """Customer.save without Id is a create (the library posts its full default object); get reads it back."""
    created = new_customer("Bill's Windsurf Shop", "surf@example.com").save(qb=qb)
    assert created.Id and created.SyncToken == "0"
    assert created.DisplayName == "Bill's Windsurf Shop"
    assert created.MetaData["CreateTime"]

    fetched = Customer.get(created.Id, qb=qb)
    assert fetched.DisplayName == "Bill's Windsurf Shop"
    assert fetched.PrimaryEmailAddr.Address == "surf@example.com"
    assert fetched.SyncToken == "0"


def test_name_parts_only_derive_display_name(qb: QuickBooks) -> None:
    customer = Customer()
    customer.GivenName, customer.FamilyName = "Amy", "Bird"
    assert customer.save(qb=qb).DisplayName == "Amy Bird"


def test_all_filter_query_count(qb: QuickBooks) -> None:
    """ListMixin: all (paged by max_results), filter (escaped quote), where/IN, raw query, count."""
    for name in ("Amy's Bird Sanctuary", "Bill's Windsurf Shop", "Cool Cars", "Dukes Basketball Camp"):
        new_customer(name).save(qb=qb)

    assert [c.DisplayName for c in Customer.all(qb=qb, order_by="DisplayName")] == [
        "Amy's Bird Sanctuary", "Bill's Windsurf Shop", "Cool Cars", "Dukes Basketball Camp"]
    first_page = Customer.all(qb=qb, order_by="Id", max_results=2)
    second_page = Customer.all(qb=qb, order_by="Id", start_position=3, max_results=2)
    assert [c.Id for c in first_page + second_page] == [c.Id for c in Customer.all(qb=qb, order_by="Id")]

    (bill,) = Customer.filter(DisplayName="Bill's Windsurf Shop", qb=qb)
    assert bill.CompanyName == "Bill's Windsurf Shop"
    assert Customer.filter(DisplayName="Nobody", qb=qb) == []
    assert {c.DisplayName for c in Customer.choose(["Cool Cars", "Dukes Basketball Camp"], field="DisplayName",
                                                     qb=qb)} == {"Cool Cars", "Dukes Basketball Camp"}
    assert [c.DisplayName for c in Customer.where("DisplayName LIKE 'B%'", qb=qb)] == ["Bill's Windsurf Shop"]
    assert len(Customer.query("select * from Customer where Active in (true, false)", qb=qb)) == 4

    assert Customer.count(qb=qb) == 4
    assert Customer.count("DisplayName LIKE '%Bi%'", qb=qb) == 2


def test_sparse_update_with_sync_token(qb: QuickBooks) -> None:
    """A read record, `sparse = True`, one field changed, saved: SyncToken moves on, other fields stay."""
    created = new_customer("Cool Cars", "cars@example.com").save(qb=qb)
    customer = Customer.get(created.Id, qb=qb)
    customer.sparse = True
    customer.PrimaryEmailAddr.Address = "new@example.com"
    updated = customer.save(qb=qb)
    assert updated.SyncToken == "1"
    assert updated.PrimaryEmailAddr.Address == "new@example.com"
    assert updated.CompanyName == "Cool Cars"

    # The smallest sparse body the library can send: Id, SyncToken, sparse and the change.
    patch = Customer()
    patch.Id, patch.SyncToken, patch.sparse, patch.DisplayName = created.Id, updated.SyncToken, True, "Cool Cars Inc"
    renamed = patch.save(qb=qb)
    assert renamed.SyncToken == "2"
    assert renamed.DisplayName == "Cool Cars Inc"
    assert renamed.PrimaryEmailAddr.Address == "new@example.com"


def test_stale_sync_token_raises_5010(qb: QuickBooks) -> None:
    created = new_customer("Dukes Basketball Camp").save(qb=qb)
    stale = Customer.get(created.Id, qb=qb)
    fresh = Customer.get(created.Id, qb=qb)
    fresh.sparse, fresh.Notes = True, "first writer"
    fresh.save(qb=qb)

    stale.sparse, stale.Notes = True, "second writer"
    with pytest.raises(QuickbooksException) as info:
        stale.save(qb=qb)
    assert info.value.error_code == 5010
    assert info.value.message == "Stale Object Error"
    assert Customer.get(created.Id, qb=qb).Notes == "first writer"


def test_duplicate_display_name_raises_6240(qb: QuickBooks) -> None:
    new_customer("Amy's Bird Sanctuary").save(qb=qb)
    with pytest.raises(QuickbooksException) as info:
        new_customer("Amy's Bird Sanctuary").save(qb=qb)
    assert info.value.error_code == 6240
    assert "Duplicate Name Exists" in info.value.message


def test_unknown_id_raises_object_not_found(qb: QuickBooks) -> None:
    with pytest.raises(ObjectNotFoundException) as info:
        Customer.get("999", qb=qb)
    assert info.value.error_code == 610


def test_invoice_query_by_customer_ref(qb: QuickBooks) -> None:
    """Invoices written with the library's Invoice/SalesItemLine objects, read back with filter on CustomerRef."""
    bill = new_customer("Bill's Windsurf Shop").save(qb=qb)
    amy = new_customer("Amy's Bird Sanctuary").save(qb=qb)
    new_invoice(bill, 85.0).save(qb=qb)
    new_invoice(bill, 40.0).save(qb=qb)
    new_invoice(amy, 10.0).save(qb=qb)

    invoices = Invoice.filter(CustomerRef=bill.Id, order_by="TxnDate DESC", qb=qb)
    assert sorted(i.TotalAmt for i in invoices) == [40.0, 85.0]
    assert all(i.CustomerRef.value == bill.Id and i.CustomerRef.name == "Bill's Windsurf Shop" for i in invoices)
    assert all(i.Line[0].SalesItemLineDetail.ItemRef.value == "1" for i in invoices)
    assert Customer.get(bill.Id, qb=qb).Balance == 125.0


def test_batch_create_and_update_with_per_item_faults(qb: QuickBooks) -> None:
    """quickbooks.batch: results are matched on bId (the simulator shuffles them); faults are per item."""
    new_customer("Cool Cars").save(qb=qb)
    created = batch_create([new_customer("Batch One"), new_customer("Batch Two"), new_customer("Cool Cars")], qb=qb)
    assert sorted(c.DisplayName for c in created.successes) == ["Batch One", "Batch Two"]
    (fault,) = created.faults
    assert fault.original_object.DisplayName == "Cool Cars"
    assert fault.Error[0].code == "6240"

    one, two = sorted(created.successes, key=lambda c: c.DisplayName)
    one.sparse, one.Notes = True, "updated in a batch"
    two.sparse, two.Notes, two.SyncToken = True, "stale", "7"
    updated = batch_update([one, two], qb=qb)
    assert [(c.Id, c.SyncToken) for c in updated.successes] == [(one.Id, "1")]
    assert [f.Error[0].code for f in updated.faults] == ["5010"]


def test_expired_access_token_raises_authorization_exception(qb: QuickBooks, qbo_server: ThreadedServer) -> None:
    """A 401 becomes the library's AuthorizationException (it does not refresh by itself)."""
    httpx.post(f"{qbo_server.url}/_admin/oauth/expire").raise_for_status()
    with pytest.raises(AuthorizationException) as info:
        Customer.count(qb=qb)
    assert info.value.error_code == 401


def test_change_data_capture(qb: QuickBooks) -> None:
    """quickbooks.cdc: the change feed a sync would poll."""
    created = new_customer("Changed Recently").save(qb=qb)
    changes = change_data_capture([Customer, Invoice], datetime.now() - timedelta(days=1), qb=qb)
    assert [c.Id for c in changes.Customer] == [created.Id]
