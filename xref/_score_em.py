"""Fellegi-Sunter parameters and their estimation by EM on counted level vectors.

EM runs on the distinct level vectors and their counts, not on pairs: a million candidate
pairs collapse into a few thousand vectors, so fitting costs the same at any run size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from xref.scoring import ATTRIBUTES, LEVELS, LevelVector

__all__ = ["DEFAULT_PARAMETERS", "EMResult", "ModelParameters", "estimate"]

#: m and u never reach 0 or 1: one unseen level would otherwise give an infinite weight.
P_MIN: Final = 1e-4
P_MAX: Final = 1 - 1e-4
#: Attributes whose exact agreement must favour the match class (label-switching guard).
STRONG: Final = ("email", "phone", "name")
#: Below this (in bits) no strong identifier separates the classes: EM found something else.
_MIN_SEPARATION: Final = 1.0


@dataclass(frozen=True, slots=True)
class ModelParameters:
    """m = P(level | match), u = P(level | non-match) per attribute; `prior` = P(match) of a candidate pair."""

    m: Mapping[str, Mapping[str, float]]
    u: Mapping[str, Mapping[str, float]]
    prior: float

    def weight(self, attribute: str, level: str) -> float:
        """log2(m/u): bits of evidence for a match."""
        return math.log2(self.m[attribute][level] / self.u[attribute][level])


# Hand-set so that, before any fit, the weights already rank pairs sensibly. Of a candidate
# pair (it shares a blocking key) about one in ten is a match. m: true duplicates often keep a
# name but change emails and phones between systems; u: candidate non-matches share a block,
# so their chance of agreeing is higher than two random records'.
DEFAULT_PARAMETERS: Final = ModelParameters(
    m={
        "name": {"exact": 0.60, "high": 0.22, "medium": 0.08, "low": 0.05, "disagree": 0.05},
        "email": {"exact": 0.55, "local": 0.05, "domain": 0.10, "disagree": 0.30},
        "phone": {"exact": 0.60, "last7": 0.05, "disagree": 0.35},
        "address": {"exact": 0.50, "high": 0.25, "unit_conflict": 0.03, "disagree": 0.22},
        "postal": {"exact": 0.80, "prefix3": 0.05, "disagree": 0.15},
        "city": {"exact": 0.80, "state": 0.10, "disagree": 0.10},
        "domain": {"exact": 0.70, "disagree": 0.30},
    },
    u={
        "name": {"exact": 0.01, "high": 0.02, "medium": 0.07, "low": 0.20, "disagree": 0.70},
        "email": {"exact": 0.002, "local": 0.003, "domain": 0.03, "disagree": 0.965},
        "phone": {"exact": 0.003, "last7": 0.002, "disagree": 0.995},
        "address": {"exact": 0.01, "high": 0.01, "unit_conflict": 0.02, "disagree": 0.96},
        "postal": {"exact": 0.05, "prefix3": 0.10, "disagree": 0.85},
        "city": {"exact": 0.08, "state": 0.40, "disagree": 0.52},
        "domain": {"exact": 0.01, "disagree": 0.99},
    },
    prior=0.1,
)


@dataclass(frozen=True, slots=True)
class EMResult:
    """The fitted parameters, or the start parameters with `fell_back` saying why."""

    parameters: ModelParameters
    iterations: int
    converged: bool
    fell_back: str | None = None
    distinct_vectors: int = 0
    pairs: int = 0


_Table = list[list[float]]


def _table(p: Mapping[str, Mapping[str, float]]) -> _Table:
    return [[p[a][level] for level in LEVELS[a]] for a in ATTRIBUTES]


def _untable(t: _Table) -> dict[str, dict[str, float]]:
    return {a: dict(zip(LEVELS[a], t[k])) for k, a in enumerate(ATTRIBUTES)}


def _normalize(counts: list[float]) -> list[float]:
    """Counts to probabilities kept inside [P_MIN, P_MAX] (up to the final renormalization)."""
    total = sum(counts)
    row = [min(P_MAX, max(P_MIN, x / total)) for x in counts]
    total = sum(row)
    return [x / total for x in row]


def _separation(m: _Table, u: _Table, observed: set[int]) -> float:
    bits = 0.0
    for attr in STRONG:
        k = ATTRIBUTES.index(attr)
        if k in observed:
            bits += math.log2(m[k][0] / u[k][0])  # level 0 is "exact" for every strong attribute
    return bits


def estimate(
    counts: Mapping[LevelVector, int],
    start: ModelParameters = DEFAULT_PARAMETERS,
    *,
    max_iter: int = 200,
    tol: float = 1e-6,
    prior_strength: float = 10.0,
) -> EMResult:
    """EM for the two-class mixture, started from (and smoothed towards) `start`.

    `prior_strength` pseudo-pairs of `start` are added to each class, so a level never seen
    keeps its configured m/u instead of collapsing to the clip bound. Falls back to `start`
    when there is nothing to learn (no pairs, one distinct vector), when the classes
    collapse, or when no strong identifier separates them.
    """
    rows: list[tuple[int, list[tuple[int, int]]]] = []
    observed: set[int] = set()
    index = [{level: i for i, level in enumerate(LEVELS[a])} for a in ATTRIBUTES]
    for vector, count in counts.items():
        if count <= 0:
            continue
        cells = [(k, index[k][level]) for k, level in enumerate(vector) if level is not None]
        if cells:
            rows.append((count, cells))
            observed.update(k for k, _ in cells)
    n_pairs = sum(c for c, _ in rows)

    def fallback(reason: str, iterations: int = 0) -> EMResult:
        return EMResult(start, iterations, False, reason, len(rows), n_pairs)

    if not rows:
        return fallback("no pairs with any comparable attribute")
    if len(rows) < 2:
        return fallback("a single distinct level vector: the mixture is not identifiable")

    m0, u0 = _table(start.m), _table(start.u)
    m, u, prior = [r[:] for r in m0], [r[:] for r in u0], start.prior
    converged = False
    iteration = 0
    for iteration in range(1, max_iter + 1):
        m_num = [[prior_strength * x for x in row] for row in m0]
        u_num = [[prior_strength * x for x in row] for row in u0]
        matched = prior_strength * start.prior
        for count, cells in rows:
            pm, pu = prior, 1.0 - prior
            for k, i in cells:
                pm *= m[k][i]
                pu *= u[k][i]
            g = pm / (pm + pu)
            cm, cu = count * g, count * (1.0 - g)
            matched += cm
            for k, i in cells:
                m_num[k][i] += cm
                u_num[k][i] += cu
        new_m = [_normalize(row) for row in m_num]
        new_u = [_normalize(row) for row in u_num]
        new_prior = matched / (n_pairs + prior_strength)
        if not math.isfinite(new_prior):
            return fallback("EM diverged (non-finite match prior)", iteration)
        delta = max(
            abs(new_prior - prior),
            max(abs(x - y) for a, b in zip(new_m, m) for x, y in zip(a, b)),
            max(abs(x - y) for a, b in zip(new_u, u) for x, y in zip(a, b)),
        )
        m, u, prior = new_m, new_u, new_prior
        if delta < tol:
            converged = True
            break

    if _separation(m, u, observed) < 0:
        m, u, prior = u, m, 1.0 - prior  # EM labelled the classes the other way round
    if not (P_MIN <= prior <= P_MAX):
        return fallback("the match prior collapsed to 0 or 1", iteration)
    if _separation(m, u, observed) < _MIN_SEPARATION:
        return fallback("no strong identifier separates the two classes", iteration)
    fitted = ModelParameters(m=_untable(m), u=_untable(u), prior=prior)
    return EMResult(fitted, iteration, converged, None, len(rows), n_pairs)
