"""QuickBooks on the wire: Fault bodies, company-local timestamps, `intuit_tid` on every response."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.responses import Response

from sandbox._faults import FaultKind
from sandbox.quickbooks import fidelity

COMPANY_TZ = ZoneInfo(fidelity.COMPANY_TIMEZONE)

Clock = Callable[[], datetime]


def company_now() -> datetime:
    return datetime.now(COMPANY_TZ)


def meta_time(moment: datetime) -> str:
    """MetaData timestamps: seconds, company offset (`2024-05-20T02:31:44-07:00`)."""
    return moment.astimezone(COMPANY_TZ).isoformat(timespec="seconds")


def response_time(moment: datetime) -> str:
    """The envelope's `time`: milliseconds, company offset."""
    return moment.astimezone(COMPANY_TZ).isoformat(timespec="milliseconds")


def intuit_tid() -> str:
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


class QboFault(Exception):
    """A business or validation error, answered as a `Fault` body."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str | None = None,
        *,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.detail = detail if detail is not None else message
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def body(self) -> dict[str, Any]:
        """The `Fault` object alone (batch items embed it without `time`)."""
        error = {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}
        return {"Error": [error], "type": self.fault_type}


def qbo_response(
    body: Mapping[str, Any], clock: Clock = company_now, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """JSON with `time` added and an `intuit_tid` header (support asks for it)."""
    payload = {**body, "time": response_time(clock())}
    all_headers = {"intuit_tid": intuit_tid(), **(headers or {})}
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=all_headers)


def fault_response(fault: QboFault, clock: Clock = company_now, headers: Mapping[str, str] | None = None) -> Response:
    return qbo_response({"Fault": fault.body()}, clock, fault.status, headers)


def auth_fault() -> QboFault:
    return QboFault(
        "3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401", "",
        status=401, fault_type="AUTHENTICATION",
    )


def realm_fault() -> QboFault:
    return QboFault(
        "3100", "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", "",
        status=403, fault_type="AuthorizationFault",
    )


def throttle_fault() -> QboFault:
    return QboFault(fidelity.THROTTLE_CODE, fidelity.THROTTLE_MESSAGE, "", status=429, fault_type="SERVICE")


def render_fault_for_injector(kind: FaultKind, status: int, retry_after: float | None) -> Response:
    """How QuickBooks looks when the FaultInjector throttles, fails or times out a call."""
    if kind is FaultKind.THROTTLE:
        return fault_response(throttle_fault())
    fault = QboFault(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: the service is temporarily unavailable",
        status=status,
        fault_type="SystemFault",
    )
    return fault_response(fault)
