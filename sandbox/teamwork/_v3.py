"""Teamwork v3 endpoints (`/projects/api/v3/...`): camelCase keys, numeric ids, `meta.page` paging."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox._json import JSONResponse
from starlette.routing import Route

from sandbox.teamwork import fidelity
from sandbox.teamwork._http import (
    Generation,
    Page,
    company_errors,
    company_values,
    endpoint,
    int_list_param,
    page_params,
    path_id,
)
from sandbox.teamwork._records import TeamworkRecords
from sandbox.teamwork._wire import v3_company, v3_company_values, v3_project, v3_user

P = fidelity.V3_PREFIX


def _meta(page: Page, count: int, has_more: bool) -> dict[str, Any]:
    return {"page": {"pageOffset": page.number - 1, "pageSize": page.size, "count": count, "hasMore": has_more}}


def routes(records: TeamworkRecords, api_key: str) -> list[Route]:
    api = endpoint(Generation.V3, api_key)

    @api
    async def list_companies(request: Request) -> Response:
        page = page_params(request, fidelity.V3_DEFAULT_PAGE_SIZE, fidelity.V3_MAX_PAGE_SIZE)
        found = records.find_companies(request.query_params.get("searchTerm"), int_list_param(request, "ids"))
        chunk, has_more = page.slice(found)
        return JSONResponse({
            "companies": [v3_company(c) for c in chunk],
            "meta": _meta(page, len(found), has_more),
            "included": {},
        })

    @api
    async def get_company(request: Request) -> Response:
        company_id = path_id(request, "company_id", "Company")
        with company_errors():
            return JSONResponse({"company": v3_company(records.company(company_id))})

    @api
    async def create_company(request: Request) -> Response:
        values = await company_values(request, v3_company_values, name_required=True)
        return JSONResponse({"company": v3_company(records.create_company(values))}, status_code=201)

    @api
    async def update_company(request: Request) -> Response:
        company_id = path_id(request, "company_id", "Company")
        values = await company_values(request, v3_company_values)
        with company_errors():
            return JSONResponse({"company": v3_company(records.update_company(company_id, values))})

    @api
    async def delete_company(request: Request) -> Response:
        company_id = path_id(request, "company_id", "Company")
        with company_errors():
            records.delete_company(company_id)
        return Response(status_code=204)

    @api
    async def list_projects(request: Request) -> Response:
        page = page_params(request, fidelity.V3_DEFAULT_PAGE_SIZE, fidelity.V3_MAX_PAGE_SIZE)
        raw_statuses = request.query_params.get("projectStatuses", "").strip().lower()
        statuses: list[str] | None
        if raw_statuses == "all":
            statuses = None
        elif raw_statuses:
            statuses = [s.strip() for s in raw_statuses.split(",") if s.strip()]
        else:
            defaults = fidelity.V3_PROJECTS_DEFAULT_STATUSES
            statuses = list(defaults) if defaults is not None else None
        found = records.find_projects(int_list_param(request, "companyIds"), statuses)
        chunk, has_more = page.slice(found)
        include = {part.strip() for part in request.query_params.get("include", "").split(",")}
        included: dict[str, Any] = {}
        if "companies" in include:
            included["companies"] = {
                str(c["id"]): v3_company(c)
                for c in (records.companies.get(p.get("companyId")) for p in chunk) if c is not None
            }
        if "users" in include:
            included["users"] = {str(p["ownerId"]): v3_user(p) for p in chunk if p.get("ownerId") is not None}
        return JSONResponse({
            "projects": [v3_project(p) for p in chunk],
            "meta": _meta(page, len(found), has_more),
            "included": included,
        })

    return [
        Route(f"{P}/companies.json", list_companies, methods=["GET"]),
        Route(f"{P}/companies.json", create_company, methods=["POST"]),
        Route(f"{P}/companies/{{company_id}}.json", get_company, methods=["GET"]),
        Route(f"{P}/companies/{{company_id}}.json", update_company, methods=["PATCH", "PUT"]),
        Route(f"{P}/companies/{{company_id}}.json", delete_company, methods=["DELETE"]),
        Route(f"{P}/projects.json", list_projects, methods=["GET"]),
    ]
