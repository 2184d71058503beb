"""The long-lived collaborators a request needs, opened once in the gateway lifespan."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connectors import Connector, SystemName
from resolvers.survivorship import DEFAULT_POLICY, Policy
from xref import Stewardship, XrefService
from xref.engine import EngineSettings

if TYPE_CHECKING:
    from resolvers.mutations import WriteServices


@dataclass(frozen=True)
class Services:
    xref: XrefService
    connectors: Mapping[SystemName, Connector]
    max_page_size: int = 100
    #: Steward decisions and the review queue (same database as the links).
    stewardship: Stewardship | None = None
    #: Thresholds and options of the matcher, for match candidates and incremental matching.
    engine_settings: EngineSettings = field(default_factory=EngineSettings)
    #: Region of phone numbers written without a country code.
    phone_region: str = "US"
    #: Which system's value wins for each unified attribute (settings `survivorship`).
    survivorship: Policy = DEFAULT_POLICY
    #: Index pages a live-data filter (customer status, open invoices) scans before it stops.
    customer_filter_max_pages: int = 10
    #: "Today" for invoice due dates; a field so tests can fix the date instead of the clock.
    today: Callable[[], datetime.date] = datetime.date.today
    #: Write-through, idempotency, outbox and audit; None on a gateway that only reads.
    writes: WriteServices | None = None

    def steward(self) -> Stewardship:
        """The stewardship service (built on the xref's sessions when not given)."""
        return self.stewardship if self.stewardship is not None else Stewardship(self.xref.sessions)
