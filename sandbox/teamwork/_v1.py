"""Teamwork v1 endpoints (`/companies.json`, `/projects.json`): string ids, `STATUS`, X-Page headers."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox._json import JSONResponse
from starlette.routing import Route

from sandbox.teamwork import fidelity
from sandbox.teamwork._http import (
    ApiError,
    Generation,
    Page,
    company_errors,
    company_values,
    endpoint,
    json_body,
    not_found,
    page_params,
    path_id,
    validation_error,
)
from sandbox.teamwork._records import NotFound, TeamworkRecords
from sandbox.teamwork._wire import v1_company, v1_company_values, v1_project

_PROJECT_STATUSES = {"ALL": None, "ACTIVE": ("active",), "ARCHIVED": ("archived",)}


def _paged(key: str, rows: list[dict[str, Any]], page: Page) -> Response:
    chunk, _ = page.slice(rows)
    pages = max(1, -(-len(rows) // page.size))
    return JSONResponse(
        {"STATUS": "OK", key: chunk},
        headers={"X-Page": str(page.number), "X-Pages": str(pages), "X-Records": str(len(rows))},
    )


def _ok(status: int = 200, **extra: Any) -> Response:
    return JSONResponse({"STATUS": "OK", **extra}, status_code=status)


def _updated_after(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError as exc:
        raise ApiError(400, "Bad Request", "updatedAfterDate must be YYYYMMDDHHMMSS") from exc


def routes(records: TeamworkRecords, api_key: str) -> list[Route]:
    api = endpoint(Generation.V1, api_key)

    def page_of(request: Request) -> Page:
        return page_params(request, fidelity.V1_DEFAULT_PAGE_SIZE, fidelity.V1_MAX_PAGE_SIZE)

    def project_rows(projects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [v1_project(p, records.companies.get(int(p.get("companyId") or 0))) for p in projects]

    @api
    async def list_companies(request: Request) -> Response:
        return _paged("companies", [v1_company(c) for c in records.find_companies()], page_of(request))

    @api
    async def get_company(request: Request) -> Response:
        company_id = path_id(request, "company_id", "Company")
        with company_errors():
            return _ok(company=v1_company(records.company(company_id)))

    @api
    async def create_company(request: Request) -> Response:
        values = await company_values(request, v1_company_values, name_required=True)
        created = records.create_company(values)
        return _ok(201, id=str(created["id"]))

    @api
    async def update_company(request: Request) -> Response:
        company_id = path_id(request, "company_id", "Company")
        values = await company_values(request, v1_company_values)
        with company_errors():
            records.update_company(company_id, values)
        return _ok()

    @api
    async def delete_company(request: Request) -> Response:
        company_id = path_id(request, "company_id", "Company")
        with company_errors():
            records.delete_company(company_id)
        return _ok()

    def status_filter(request: Request) -> tuple[str, ...] | None:
        raw = request.query_params.get("status", fidelity.V1_DEFAULT_PROJECT_STATUS).upper()
        if raw not in _PROJECT_STATUSES:
            raise ApiError(400, "Bad Request", "status must be ALL, ACTIVE or ARCHIVED")
        return _PROJECT_STATUSES[raw]

    @api
    async def list_projects(request: Request) -> Response:
        found = records.find_projects(
            statuses=status_filter(request),
            updated_after=_updated_after(request.query_params.get("updatedAfterDate")),
        )
        return _paged("projects", project_rows(found), page_of(request))

    @api
    async def company_projects(request: Request) -> Response:
        company_id = path_id(request, "company_id", "Company")
        if records.companies.get(company_id) is None:
            raise not_found("Company")
        found = records.find_projects(company_ids={company_id}, statuses=status_filter(request))
        return _paged("projects", project_rows(found), page_of(request))

    @api
    async def create_project(request: Request) -> Response:
        body = await json_body(request)
        project = body.get("project") if isinstance(body, dict) else None
        if not isinstance(project, dict):
            raise validation_error('the body must be a JSON object {"project": {...}}', "project")
        name = project.get("name")
        if not isinstance(name, str) or not name.strip():
            raise validation_error("A project name is required", "name")
        try:
            company_id = int(project.get("companyId") or project.get("company-id") or 0)
            created = records.create_project(
                name.strip(), company_id,
                description=str(project.get("description") or ""),
                start=str(project.get("start-date") or ""),
                end=str(project.get("end-date") or ""),
            )
        except (ValueError, NotFound) as exc:
            raise validation_error("companyId must name an existing company", "companyId") from exc
        return JSONResponse({"id": str(created["id"])}, status_code=201)

    return [
        Route("/companies.json", list_companies, methods=["GET"]),
        Route("/companies.json", create_company, methods=["POST"]),
        Route("/companies/{company_id}.json", get_company, methods=["GET"]),
        Route("/companies/{company_id}.json", update_company, methods=["PUT"]),
        Route("/companies/{company_id}.json", delete_company, methods=["DELETE"]),
        Route("/companies/{company_id}/projects.json", company_projects, methods=["GET"]),
        Route("/projects.json", list_projects, methods=["GET"]),
        Route("/projects.json", create_project, methods=["POST"]),
    ]
