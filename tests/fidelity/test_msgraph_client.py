"""msgraph-sdk (Microsoft's Graph SDK for Python, kiota + httpx), unchanged, against the SharePoint simulator.

Only configuration differs from production use: the request adapter's `base_url` and a
bearer-token provider holding a token from the simulator's client-credentials endpoint
(in production azure-identity's ClientSecretCredential would fetch it; MSAL insists on an
https authority with instance discovery, which a plain-http 127.0.0.1 simulator cannot offer).
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

pytest.importorskip("msgraph", reason="msgraph-sdk is not installed (pip install msgraph-sdk)")
# msgraph-core 1.5 imports `deprecated` for its batch classes without declaring it as a dependency.
pytest.importorskip("deprecated", reason="msgraph-core's batch module needs `deprecated` (pip install deprecated)")

from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph import GraphRequestAdapter, GraphServiceClient, graph_request_adapter
from msgraph.generated.models.field_value_set import FieldValueSet
from msgraph.generated.models.list_item import ListItem
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

with warnings.catch_warnings():  # the generated builders warn about their own deprecated classes on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from msgraph.generated.sites.item.lists.item.items.item.list_item_item_request_builder import (
        ListItemItemRequestBuilder,
    )
    from msgraph.generated.sites.item.lists.item.items.items_request_builder import (
        ItemsRequestBuilder,
    )

from msgraph_core import GraphClientFactory
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem
from msgraph_core.tasks.page_iterator import PageIterator

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer

# The same warnings, from builders the SDK imports lazily during the calls.
pytestmark = pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning")

PREFER = "HonorNonIndexedQueriesWarningMayFailRandomly"
ItemsQuery = ItemsRequestBuilder.ItemsRequestBuilderGetQueryParameters
ItemQuery = ListItemItemRequestBuilder.ListItemItemRequestBuilderGetQueryParameters


class StaticTokenProvider(AccessTokenProvider):
    """Hands the SDK one app-only token (what a TokenCredential would cache for an hour)."""

    def __init__(self, token: str, host: str) -> None:
        self._token = token
        self._hosts = AllowedHostsValidator([host])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return self._token if self._hosts.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


@pytest.fixture
async def graph(sp_server: ThreadedServer, graph_token: str) -> AsyncIterator[GraphServiceClient]:
    """GraphServiceClient on the simulator, built as `GraphRequestAdapter(auth)` builds its default client.

    The connection pool is made here so it can be closed: msgraph-core's AsyncGraphTransport,
    which wraps it, has no `aclose`, so closing the client alone leaks the sockets.
    """
    pool = httpx.AsyncHTTPTransport(http2=True)
    base = httpx.AsyncClient(transport=pool, timeout=httpx.Timeout(100, connect=30))
    http = GraphClientFactory.create_with_default_middleware(client=base, options=graph_request_adapter.options)
    auth = BaseBearerTokenAuthenticationProvider(StaticTokenProvider(graph_token, sp_server.host))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{sp_server.url}/v1.0"
    yield GraphServiceClient(request_adapter=adapter)
    await http.aclose()
    await pool.aclose()


@pytest.fixture
def items(graph: GraphServiceClient, credentials: SandboxCredentials) -> ItemsRequestBuilder:
    """/sites/{site-id}/lists/Customers/items (the list title stands in for its id, as Graph allows)."""
    return graph.sites.by_site_id(credentials.sharepoint_site_id).lists.by_list_id("Customers").items


def prefer_non_indexed() -> HeadersCollection:
    headers = HeadersCollection()
    headers.add("Prefer", PREFER)
    return headers


async def test_list_items_expand_fields_and_follow_next_link(items: ItemsRequestBuilder) -> None:
    """$expand=fields(select=...) and $top; the opaque @odata.nextLink is followed with with_url."""
    config = RequestConfiguration(query_parameters=ItemsQuery(expand=["fields(select=Title,EmailPrimary)"], top=2))
    page = await items.get(request_configuration=config)
    assert page is not None and page.value is not None
    seen = [(i.id, i.fields.additional_data.get("Title")) for i in page.value if i.fields]
    assert seen == [("1", "Bill's Windsurf Shop"), ("2", "Amy's Bird Sanctuary")]
    assert set(page.value[0].fields.additional_data) == {"@odata.etag", "Title", "EmailPrimary"}

    while page.odata_next_link:
        page = await items.with_url(page.odata_next_link).get()
        assert page is not None and page.value is not None
        seen += [(i.id, i.fields.additional_data.get("Title")) for i in page.value if i.fields]
    assert [item_id for item_id, _ in seen] == ["1", "2", "3", "4", "5"]


async def test_page_iterator_walks_all_pages(graph: GraphServiceClient, items: ItemsRequestBuilder) -> None:
    """msgraph-core's PageIterator: the generic way the SDK documents for paging."""
    config = RequestConfiguration(query_parameters=ItemsQuery(expand=["fields"], top=2))
    first = await items.get(request_configuration=config)
    titles: list[str] = []

    def collect(item: ListItem) -> bool:
        assert item.fields is not None
        titles.append(str(item.fields.additional_data["Title"]))
        return True

    iterator = PageIterator(first, graph.request_adapter, error_mapping={"XXX": ODataError})
    await iterator.iterate(collect)
    assert len(titles) == 5
    assert titles[0] == "Bill's Windsurf Shop"


async def test_filter_needs_prefer_header_on_non_indexed_column(items: ItemsRequestBuilder) -> None:
    """Without Prefer: 400 invalidRequest as an APIError; with it: the match."""
    query = ItemsQuery(expand=["fields"], filter="fields/EmailPrimary eq 'bbq@example.com'")
    with pytest.raises(APIError) as info:
        await items.get(request_configuration=RequestConfiguration(query_parameters=query))
    assert info.value.response_status_code == 400
    assert isinstance(info.value, ODataError) and info.value.error is not None
    assert info.value.error.code == "invalidRequest"

    page = await items.get(request_configuration=RequestConfiguration(headers=prefer_non_indexed(),
                                                                      query_parameters=query))
    assert page is not None and page.value is not None
    assert [i.id for i in page.value] == ["3"]

    starts = ItemsQuery(expand=["fields"], filter="startswith(fields/Title,'Bill')")
    page = await items.get(request_configuration=RequestConfiguration(headers=prefer_non_indexed(),
                                                                      query_parameters=starts))
    assert page is not None and page.value is not None
    assert sorted(i.id for i in page.value) == ["1", "3"]


async def test_get_item_with_fields(items: ItemsRequestBuilder) -> None:
    item = await items.by_list_item_id("1").get(
        request_configuration=RequestConfiguration(query_parameters=ItemQuery(expand=["fields"])))
    assert item is not None and item.fields is not None
    assert item.e_tag == '"{5D2F1B5C-8C8E-4B6E-9A53-2A0C6F1D0001},3"'
    assert item.created_date_time is not None and item.last_modified_date_time is not None
    assert item.created_by is not None and item.created_by.user is not None
    assert item.created_by.user.display_name == "Mark Matkowski"
    assert item.fields.additional_data["EmailPrimary"] == "surf@example.com"
    assert item.fields.additional_data["@odata.etag"] == '"5d2f1b5c-8c8e-4b6e-9a53-2a0c6f1d0001,3"'


async def test_missing_item_raises_api_error_404(items: ItemsRequestBuilder) -> None:
    with pytest.raises(APIError) as info:
        await items.by_list_item_id("999").get()
    assert info.value.response_status_code == 404
    assert isinstance(info.value, ODataError) and info.value.error is not None
    assert info.value.error.code == "itemNotFound"
    assert info.value.response_headers is not None and info.value.response_headers.get("request-id")


async def test_expired_token_raises_api_error_401(items: ItemsRequestBuilder, sp_server: ThreadedServer) -> None:
    """An expired bearer: 401 InvalidAuthenticationToken, surfaced as the SDK's ODataError."""
    async with httpx.AsyncClient() as admin:
        (await admin.post(f"{sp_server.url}/_admin/sharepoint/expire-tokens")).raise_for_status()
    with pytest.raises(APIError) as info:
        await items.by_list_item_id("1").get()
    assert info.value.response_status_code == 401
    assert isinstance(info.value, ODataError) and info.value.error is not None
    assert info.value.error.code == "InvalidAuthenticationToken"


async def test_create_item(items: ItemsRequestBuilder) -> None:
    body = ListItem(fields=FieldValueSet(additional_data={
        "Title": "New Windsurf Co", "EmailPrimary": "new@example.com", "CustomerStatus": "lead"}))
    created = await items.post(body)
    assert created is not None and created.id == "6" and created.fields is not None
    assert created.fields.additional_data["Title"] == "New Windsurf Co"
    assert created.e_tag is not None and created.e_tag.endswith(',1"')

    unknown = ListItem(fields=FieldValueSet(additional_data={"Title": "X", "NoSuchColumn": "y"}))
    with pytest.raises(APIError) as info:
        await items.post(unknown)
    assert info.value.response_status_code == 400


async def test_update_fields_with_if_match_and_stale_etag_412(items: ItemsRequestBuilder) -> None:
    """PATCH .../fields with If-Match: the current eTag wins, the old one gets 412 and changes nothing."""
    item = await items.by_list_item_id("2").get()
    assert item is not None and item.e_tag is not None
    old_etag = item.e_tag

    headers = HeadersCollection()
    headers.add("If-Match", old_etag)
    fields = await items.by_list_item_id("2").fields.patch(
        FieldValueSet(additional_data={"Phone": "(650) 555-0000"}),
        request_configuration=RequestConfiguration(headers=headers),
    )
    assert fields is not None
    assert fields.additional_data["Phone"] == "(650) 555-0000"
    assert fields.additional_data["Title"] == "Amy's Bird Sanctuary"  # all fields come back
    assert str(fields.additional_data["@odata.etag"]).endswith(',4"')

    stale = HeadersCollection()
    stale.add("If-Match", old_etag)
    with pytest.raises(APIError) as info:
        await items.by_list_item_id("2").fields.patch(
            FieldValueSet(additional_data={"Phone": "(650) 555-9999"}),
            request_configuration=RequestConfiguration(headers=stale),
        )
    assert info.value.response_status_code == 412
    current = await items.by_list_item_id("2").fields.get()
    assert current is not None and current.additional_data["Phone"] == "(650) 555-0000"


async def test_delete_item(items: ItemsRequestBuilder) -> None:
    await items.by_list_item_id("5").delete()
    with pytest.raises(APIError) as info:
        await items.by_list_item_id("5").get()
    assert info.value.response_status_code == 404


async def test_batch_with_batch_request_content(graph: GraphServiceClient, items: ItemsRequestBuilder) -> None:
    """msgraph-core's BatchRequestContent: sub-requests built by the fluent API, answers matched by id.

    Sub-response bodies are not read through the SDK: msgraph-core 1.5 only keeps a body that
    is a base64 string and drops JSON-object bodies, which is what Graph sends for JSON
    (get_response_by_id(id, Type) fails the same way against graph.microsoft.com; see
    microsoftgraph/msgraph-sdk-python-core#807). The effect of the PATCH is checked by reading back.
    """
    get_one = items.by_list_item_id("1").to_get_request_information(
        RequestConfiguration(query_parameters=ItemQuery(expand=["fields"])))
    get_missing = items.by_list_item_id("999").to_get_request_information()
    patch = items.by_list_item_id("3").fields.to_patch_request_information(
        FieldValueSet(additional_data={"City": "Austin"}))
    content = BatchRequestContent({
        "one": BatchRequestItem(get_one, id="one"),
        "missing": BatchRequestItem(get_missing, id="missing"),
        "patch": BatchRequestItem(patch, id="patch"),
    })
    result = await graph.batch.post(content)

    assert result.get_response_status_codes() == {"one": 200, "missing": 404, "patch": 200}
    one = result.get_response_by_id("one")
    assert one is not None and one.content_type is not None and one.content_type.startswith("application/json")
    assert one.headers is not None and "request-id" in {k.lower() for k in one.headers}
    after = await items.by_list_item_id("3").fields.get()
    assert after is not None and after.additional_data["City"] == "Austin"
    assert str(after.additional_data["@odata.etag"]).endswith(',4"')


async def test_delta_enumerates_to_a_delta_link(items: ItemsRequestBuilder) -> None:
    """items.delta: full enumeration ending in @odata.deltaLink.

    Note for the implementation: the SDK calls `.../items/delta()` (OData function syntax, with
    parentheses), not `.../items/delta` as written in source-apis.md; Graph accepts both.
    """
    page = await items.delta.get()
    ids: list[str] = []
    while page is not None:
        ids += [str(i.id) for i in page.value or []]
        if not page.odata_next_link:
            break
        page = await items.delta.with_url(page.odata_next_link).get()
    assert page is not None and page.odata_delta_link
    assert ids == ["1", "2", "3", "4", "5"]
