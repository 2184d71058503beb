"""The company page of Teamwork's web UI (`/app/companies/{id}`), where the connector's record links point."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox._pages import not_found_page, record_page
from sandbox.teamwork._records import NotFound, TeamworkRecords


def page_routes(records: TeamworkRecords) -> list[Route]:
    async def company_page(request: Request) -> Response:
        try:
            company = records.company(int(request.path_params["company_id"]))
        except (NotFound, ValueError):
            return not_found_page("Teamwork")
        projects = records.find_projects(company_ids={company["id"]})
        shown = {**company, "projects": [p.get("name") for p in projects]}
        return record_page("Teamwork", str(company.get("name") or company["id"]), shown)

    return [Route("/app/companies/{company_id}", company_page, methods=["GET"])]
