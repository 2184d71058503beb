"""The list-item page of the SharePoint web UI (`/Lists/{list}/{id}_.000`), where items' webUrl points."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox._pages import not_found_page, record_page
from sandbox.sharepoint._lists import Site


def page_routes(site: Site) -> list[Route]:
    async def item_page(request: Request) -> Response:
        site_list = site.find_list(request.path_params["list"])
        raw_id = request.path_params["item"].removesuffix("_.000")
        item = site_list.items.get(int(raw_id)) if site_list is not None and raw_id.isdigit() else None
        if item is None or site_list is None:
            return not_found_page("SharePoint")
        fields = item.get("fields", {})
        shown = {"ID": item["id"], **fields, "Created": item.get("created"), "Modified": item.get("modified")}
        return record_page("SharePoint", str(fields.get("Title") or item["id"]), shown)

    return [Route("/Lists/{list}/{item}", item_page, methods=["GET"])]
