"""The long-lived collaborators a request needs, opened once in the gateway lifespan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connectors import Connector, SystemName
from xref import XrefService


@dataclass(frozen=True)
class Services:
    xref: XrefService
    connectors: Mapping[SystemName, Connector]
    max_page_size: int = 100
