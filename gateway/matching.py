"""The matcher's settings as the engine takes them, built from the gateway's configuration."""

from __future__ import annotations

from connectors import SystemName
from gateway.config import MatchSettings
from xref._score_thresholds import MatchThresholds, ThresholdPair, system_pair
from xref.engine import EngineSettings


def engine_settings(match: MatchSettings) -> EngineSettings:
    overrides = {
        system_pair(*(SystemName(p) for p in key.split("+"))): ThresholdPair(link=value.link, review=value.review)
        for key, value in match.per_system_pair.items()
    }
    return EngineSettings(
        thresholds=MatchThresholds(link=match.link, review=match.review, per_system_pair=overrides),
        fit=match.fit,
        one_to_one=match.one_to_one,
    )
