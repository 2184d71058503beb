"""Retry timing shared by all connectors: capped exponential backoff with jitter, Retry-After wins."""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

from connectors._resilience import request_deadline
from connectors._settings import UpstreamLimits

#: Statuses worth another try of an idempotent call (source-apis.md section 0).
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if unparseable."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def server_retry_after(resp: httpx.Response | None) -> float | None:
    """The wait a throttling system asked for, from Retry-After or (Teamwork) X-Rate-Limit-Reset."""
    if resp is None:
        return None
    header = resp.headers.get("Retry-After")
    if header is not None:
        return parse_retry_after(header)
    reset = resp.headers.get("X-Rate-Limit-Reset")
    if reset is not None and resp.status_code == 429:
        return parse_rate_limit_reset(reset)
    return None


def parse_rate_limit_reset(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from Teamwork's X-Rate-Limit-Reset: seconds to go, or (if huge) an epoch time."""
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if number > 1_000_000_000:  # an epoch timestamp, not a delay
        now = now or datetime.now(timezone.utc)
        return max(0.0, number - now.timestamp())
    return max(0.0, number)


def may_retry_after(delay: float, elapsed: float, limits: UpstreamLimits) -> bool:
    """Whether waiting `delay` more and trying again still fits both the call's and the request's deadline.

    A retry that would land after the GraphQL request's deadline is pointless: give up
    now and report what failed, rather than be cut off and report a timeout.
    """
    if elapsed + delay > limits.retry_deadline_s:
        return False
    deadline = request_deadline.get()
    return deadline is None or time.monotonic() + delay < deadline


def retry_delay(resp: httpx.Response | None, attempt: int, limits: UpstreamLimits) -> float:
    """Delay before attempt `attempt + 1` (attempt counts from 0).

    Equal jitter rather than full jitter: the wait never drops below half the
    exponential step, so a short outage is ridden out in a predictable number of tries.
    """
    asked = server_retry_after(resp)
    if asked is not None:
        return min(asked, limits.retry_after_max_s)
    step = min(limits.backoff_max_s, limits.backoff_base_s * 2**attempt)
    return step / 2 + random.uniform(0, step / 2)
