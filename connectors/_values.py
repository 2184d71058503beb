"""Reading loosely typed wire values: every vendor sends "no value" and timestamps its own way."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def text(value: Any) -> str | None:
    """Missing key, null, "" and whitespace all mean no value (source-apis.md section 0)."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 with `Z` or an offset; a timestamp without one is taken as UTC; garbage is no value."""
    raw = text(value)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
