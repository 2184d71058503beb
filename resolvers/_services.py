"""The long-lived collaborators a request needs, opened once in the gateway lifespan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors import Connector, SystemName
from xref import Stewardship, XrefService
from xref.engine import EngineSettings


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

    def steward(self) -> Stewardship:
        """The stewardship service (built on the xref's sessions when not given)."""
        return self.stewardship if self.stewardship is not None else Stewardship(self.xref.sessions)
