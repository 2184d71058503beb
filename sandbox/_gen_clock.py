"""The generator's fixed timeline and the timestamp formats of the three systems.

Nothing here reads the wall clock: every time is an int of seconds on a
timeline that ends at an "as of" instant derived from the seed, so the same
seed gives byte-identical records whenever it runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DAY = 86_400
_PACIFIC = ZoneInfo("America/Los_Angeles")
_BASE_AS_OF = int(datetime(2025, 6, 30, 17, 0, tzinfo=UTC).timestamp())
_HISTORY_DAYS = 5 * 365


@dataclass(frozen=True, slots=True)
class Timeline:
    """The span the firm's history covers; `as_of` is "now" for the generated data."""

    start: int
    as_of: int

    @classmethod
    def for_seed(cls, seed: int) -> Timeline:
        # Different seeds get different (but fixed) "now"s, so tests cannot
        # accidentally depend on one calendar date.
        as_of = _BASE_AS_OF - (seed % 97) * DAY
        return cls(start=as_of - _HISTORY_DAYS * DAY, as_of=as_of)

    def clamp(self, ts: int) -> int:
        """Keep a derived time inside the history (never after "now")."""
        return min(max(ts, self.start), self.as_of)


def utc_z(ts: int) -> str:
    """Graph and Teamwork style: `2024-03-01T14:05:12Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def pacific(ts: int) -> str:
    """QuickBooks style: local time of a California company with its offset (-07:00 or -08:00)."""
    return datetime.fromtimestamp(ts, _PACIFIC).isoformat()


def iso_date(ts: int) -> str:
    """QuickBooks TxnDate/DueDate: the Pacific calendar date, `2024-05-01`."""
    return datetime.fromtimestamp(ts, _PACIFIC).strftime("%Y-%m-%d")


def compact_date(ts: int) -> str:
    """Teamwork project dates: `20240301`."""
    return time.strftime("%Y%m%d", time.gmtime(ts))
