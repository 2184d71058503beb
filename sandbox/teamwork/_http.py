"""What every Teamwork endpoint shares: auth, error bodies per API generation, paging, rate headers."""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox._json import JSONResponse
from starlette.types import Receive, Scope, Send

from sandbox._faults import FaultInjector, FaultKind
from sandbox.teamwork import fidelity
from sandbox.teamwork._records import NotFound, OwnerProtected
from sandbox.teamwork._wire import WriteError

Handler = Callable[[Request], Awaitable[Response]]


class Generation(StrEnum):
    V1 = "v1"
    V3 = "v3"


class ApiError(Exception):
    """An error answer; rendered in the body shape of the API generation that was called."""

    def __init__(self, status: int, title: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field


def error_body(generation: Generation, status: int, title: str, detail: str, field: str | None = None) -> dict[str, Any]:
    if generation is Generation.V1:
        return {"MESSAGE": detail, "STATUS": "Error"}
    return {"errors": [{
        "title": title, "detail": detail, "code": title.lower().replace(" ", "_"), "id": "",
        "meta": {"field": field} if field else {},
    }]}


def error_response(generation: Generation, error: ApiError) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="Teamwork"'} if error.status == 401 else None
    return JSONResponse(
        error_body(generation, error.status, error.title, error.detail, error.field),
        status_code=error.status, headers=headers,
    )


def generation_of(path: str) -> Generation:
    return Generation.V3 if path.startswith(fidelity.V3_PREFIX) else Generation.V1


def _authorized(request: Request, api_key: str) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return secrets.compare_digest(value.strip().encode(), api_key.encode())
    if scheme == "basic":
        try:
            user = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user.encode(), api_key.encode())
    return False


def endpoint(generation: Generation, api_key: str) -> Callable[[Handler], Handler]:
    """Wrap a handler: refuse bad credentials, render ApiError in this generation's shape."""

    def wrap(handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            try:
                if not _authorized(request, api_key):
                    raise ApiError(401, "Unauthorized", "Bad API key or token")
                return await handler(request)
            except ApiError as exc:
                return error_response(generation, exc)

        run.__name__ = handler.__name__
        return run

    return wrap


def validation_error(detail: str, field: str | None = None) -> ApiError:
    return ApiError(fidelity.VALIDATION_STATUS, "Validation Error", detail, field=field)


def not_found(what: str) -> ApiError:
    return ApiError(404, "Not Found", f"{what} not found")


async def json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise ApiError(400, "Bad Request", "The body is not valid JSON") from exc


async def company_values(
    request: Request, parse: Callable[[Any], dict[str, str]], *, name_required: bool = False
) -> dict[str, str]:
    """A company write body parsed by this generation's `parse`; refused the same way by v1 and v3."""
    try:
        values = parse(await json_body(request))
        if name_required and not values.get("name"):
            raise WriteError("A company name is required", "name")
    except WriteError as exc:
        raise validation_error(str(exc), exc.field) from exc
    return values


@contextmanager
def company_errors() -> Iterator[None]:
    """Record errors as both generations answer them: unknown company 404, the owner company refused."""
    try:
        yield
    except NotFound as exc:
        raise not_found("Company") from exc
    except OwnerProtected as exc:
        raise ApiError(fidelity.OWNER_DELETE_STATUS, "Forbidden", str(exc)) from exc


def int_param(request: Request, name: str, default: int, *, minimum: int = 1) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, "Bad Request", f"'{name}' must be an integer") from exc
    if value < minimum:
        raise ApiError(400, "Bad Request", f"'{name}' must be at least {minimum}")
    return value


def int_list_param(request: Request, name: str) -> set[int] | None:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError as exc:
        raise ApiError(400, "Bad Request", f"'{name}' must be a comma-separated list of ids") from exc


def path_id(request: Request, name: str, what: str) -> int:
    try:
        return int(request.path_params[name])
    except ValueError as exc:
        raise not_found(what) from exc


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    size: int

    def slice(self, rows: list[Any]) -> tuple[list[Any], bool]:
        start = (self.number - 1) * self.size
        chunk = rows[start:start + self.size]
        return chunk, start + len(chunk) < len(rows)


def page_params(request: Request, default_size: int, max_size: int) -> Page:
    size = min(int_param(request, "pageSize", default_size), max_size)
    return Page(int_param(request, "page", 1), size)


# --- fault injector hooks -----------------------------------------------------------------

_FAULT_TEXT = {
    FaultKind.THROTTLE: ("Too Many Requests", fidelity.RATE_LIMIT_MESSAGE),
    FaultKind.OUTAGE: ("Service Unavailable", "Teamwork is temporarily unavailable"),
    FaultKind.ERROR: ("Internal Server Error", "Something went wrong"),
    FaultKind.TIMEOUT: ("Gateway Timeout", "The request timed out"),
}


class _ByGeneration(Response):
    """An error whose body shape depends on the path called (known only when it is sent)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(status_code=status)
        self._bodies = {g: JSONResponse(error_body(g, status, title, detail), status_code=status) for g in Generation}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = self._bodies[generation_of(scope["path"])]
        for key, value in self.headers.items():
            if key not in ("content-length", "content-type"):
                chosen.headers[key] = value
        await chosen(scope, receive, send)


def rate_headers(limit: int | None, remaining: int | None, reset_in: float | None) -> Mapping[str, str]:
    """X-Rate-Limit-* on every response; without a configured limit, the documented one, unused."""
    if limit is None:
        limit = remaining = fidelity.DOCUMENTED_RATE_LIMIT_PER_MINUTE
        reset_in = 0.0
    return {
        "X-Rate-Limit-Limit": str(limit),
        "X-Rate-Limit-Remaining": str(remaining if remaining is not None else limit),
        "X-Rate-Limit-Reset": str(math.ceil(reset_in or 0.0)),
    }


def fault_renderer(injector: Callable[[], FaultInjector]) -> Callable[[FaultKind, int, float | None], Response]:
    """FaultInjector's error renderer: Teamwork bodies, with rate headers on every fault too."""

    def render(kind: FaultKind, status: int, retry_after: float | None) -> Response:
        title, detail = _FAULT_TEXT[kind]
        response = _ByGeneration(status, title, detail)
        if kind is not FaultKind.THROTTLE:  # the injector adds them to 429s itself
            limiter = injector().state.limiter
            response.headers.update(rate_headers(limiter.limit, limiter.remaining(), limiter.reset_in()))
        return response

    return render
