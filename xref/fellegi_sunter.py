"""The Fellegi-Sunter model: level weights log2(m/u), fitted by EM, summed into an explainable score.

A pair's score is the sum of one weight per attribute both records have; each weight is kept
as `Evidence`, so a steward sees which attributes decided a link and the parts add up to
the score exactly. Exact agreements on common values are discounted: u is raised to the
share of records holding the value, so a shared "smith" or a shared generic domain adds less.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from rapidfuzz import fuzz

from xref._match_types import Evidence, MatchRecord, ScoredPair
from xref._score_em import DEFAULT_PARAMETERS, EMResult, ModelParameters, estimate
from xref._score_thresholds import (
    DEFAULT_LINK,
    DEFAULT_REVIEW,
    Decision,
    MatchThresholds,
    ThresholdPair,
    system_pair,
)
from xref.scoring import (
    _NAME_HIGH,
    _NAME_LOW,
    _NAME_MEDIUM,
    _STREET_HIGH,
    ATTRIBUTES,
    DISCOUNTED,
    LEVELS,
    LevelVector,
    RecordFeatures,
    ValueFrequencies,
    _city_level,
    _domain_level,
    compare_person_names,
    discount_value,
    level_vector,
)

__all__ = [
    "DEFAULT_LINK",
    "DEFAULT_PARAMETERS",
    "DEFAULT_REVIEW",
    "Decision",
    "EMResult",
    "FellegiSunterModel",
    "MatchThresholds",
    "ModelParameters",
    "ThresholdPair",
    "count_level_vectors",
    "system_pair",
    "to_probability",
]

#: Name comparisons cached per score_many call; cleared past this size to bound memory.
_NAME_CACHE_MAX: Final = 200_000


def to_probability(score: float, prior: float) -> float:
    """Posterior match probability of a pair with log2 likelihood ratio `score`, given P(match) = prior."""
    if prior <= 0.0:
        return 0.0
    if prior >= 1.0:
        return 1.0
    log_odds = score + math.log2(prior / (1.0 - prior))
    if log_odds > 60:
        return 1.0
    if log_odds < -1000:
        return 0.0
    return 1.0 / (1.0 + 2.0 ** (-log_odds))


def count_level_vectors(records: Sequence[MatchRecord], pairs: Iterable[tuple[int, int]]) -> Counter[LevelVector]:
    """How often each level vector occurs among `pairs` (indexes into `records`): EM's input."""
    feats = [RecordFeatures.of(r) for r in records]
    return Counter(level_vector(feats[i], feats[j]) for i, j in pairs)


class FellegiSunterModel:
    """Weights per attribute level; `score`/`score_many` turn record pairs into `ScoredPair`s.

    Starts from `priors` (configured m/u that already work); `fit` re-estimates them from
    the run's unlabeled candidate pairs and keeps the priors when EM has nothing sound to say
    (see `fit_report.fell_back`). Without `frequencies` no common-value discount applies.
    """

    def __init__(
        self,
        parameters: ModelParameters | None = None,
        *,
        frequencies: ValueFrequencies | None = None,
        priors: ModelParameters = DEFAULT_PARAMETERS,
    ) -> None:
        self.priors = priors
        self.parameters = parameters if parameters is not None else priors
        self.frequencies = frequencies
        self.fit_report: EMResult | None = None
        self._rebuild()

    # -- parameters ---------------------------------------------------------------------

    def _rebuild(self) -> None:
        p = self.parameters
        # One shared Evidence object per plain (attribute, level): score_many allocates none.
        self._plain: list[dict[str, Evidence | None]] = []
        for attr in ATTRIBUTES:
            row: dict[str, Evidence | None] = {}
            for level in LEVELS[attr]:
                discounted = self.frequencies is not None and (attr, level) in DISCOUNTED
                row[level] = None if discounted else Evidence(attr, level, p.weight(attr, level))
            self._plain.append(row)
        self._discounted: dict[tuple[str, str, str], Evidence] = {}

    def weight(self, attribute: str, level: str, value: str | None = None) -> float:
        """log2(m/u) of a level; for a discounted level with a `value`, u is at least that value's share."""
        m = self.parameters.m[attribute][level]
        u = self.parameters.u[attribute][level]
        if value is not None and self.frequencies is not None and (attribute, level) in DISCOUNTED:
            counter = _COUNTER[(attribute, level)]
            u = max(u, self.frequencies.share(counter, value))
        return math.log2(m / u)

    def weights(self) -> dict[str, dict[str, float]]:
        """Undiscounted weight of every level, for reports and config review."""
        return {a: {lv: round(self.parameters.weight(a, lv), 3) for lv in LEVELS[a]} for a in ATTRIBUTES}

    @property
    def prior(self) -> float:
        return self.parameters.prior

    def with_frequencies(self, frequencies: ValueFrequencies | None) -> FellegiSunterModel:
        """The same weights, discounted by another run's value frequencies."""
        return FellegiSunterModel(self.parameters, frequencies=frequencies, priors=self.priors)

    def fit(
        self,
        records: Sequence[MatchRecord],
        pairs: Iterable[tuple[int, int]],
        *,
        max_iter: int = 200,
        tol: float = 1e-6,
        prior_strength: float = 10.0,
    ) -> FellegiSunterModel:
        """Estimate m, u and the prior by EM from unlabeled candidate pairs; also take value frequencies.

        `pairs` index `records` (their position, which is `MatchRecord.index` in a run).
        Returns self; `fit_report` says how it went and whether the priors were kept.
        """
        self.frequencies = ValueFrequencies.from_records(records)
        return self.fit_counts(
            count_level_vectors(records, pairs), max_iter=max_iter, tol=tol, prior_strength=prior_strength
        )

    def fit_counts(
        self,
        counts: Counter[LevelVector] | dict[LevelVector, int],
        *,
        max_iter: int = 200,
        tol: float = 1e-6,
        prior_strength: float = 10.0,
    ) -> FellegiSunterModel:
        """`fit` on already counted level vectors (the frequencies stay as they are)."""
        self.fit_report = estimate(counts, self.priors, max_iter=max_iter, tol=tol, prior_strength=prior_strength)
        self.parameters = self.fit_report.parameters
        self._rebuild()
        return self

    # -- scoring ------------------------------------------------------------------------

    def confidence(self, score: float) -> float:
        """Posterior match probability in [0, 1] under the model's prior: what a link stores."""
        return to_probability(score, self.parameters.prior)

    def _evidence(self, k: int, level: str, a: RecordFeatures, b: RecordFeatures) -> Evidence:
        ev = self._plain[k][level]
        if ev is not None:
            return ev
        attr = ATTRIBUTES[k]
        found = discount_value(attr, level, a, b)
        value = found[1] if found is not None else ""
        key = (attr, level, value)
        ev = self._discounted.get(key)
        if ev is None:
            ev = Evidence(attr, level, self.weight(attr, level, value or None))
            self._discounted[key] = ev
        return ev

    def score(self, a: MatchRecord, b: MatchRecord) -> ScoredPair:
        """Score and evidence of one pair (`left`/`right` are the records' `index`)."""
        fa, fb = RecordFeatures.of(a), RecordFeatures.of(b)
        evidence = []
        total = 0.0
        for k, level in enumerate(level_vector(fa, fb)):
            if level is not None:
                ev = self._evidence(k, level, fa, fb)
                evidence.append(ev)
                total += ev.weight
        return ScoredPair(a.index, b.index, total, tuple(evidence))

    def score_many(self, records: Sequence[MatchRecord], pairs: Iterable[tuple[int, int]]) -> list[ScoredPair]:
        """`score` for many pairs (indexes into `records`, so `left`/`right` are positions).

        The comparators of `xref.scoring` are inlined here: a function call per attribute
        was a third of the cost at a million pairs. `test_score_many_equals_score` keeps
        the two in step.
        """
        feats = [RecordFeatures.of(r) for r in records]
        name_cache: dict[tuple[str, str], str] = {}
        p_name, p_email, p_phone, p_addr, p_postal, p_city, p_domain = self._plain
        slow = self._evidence
        token_set_ratio = fuzz.token_set_ratio
        ratio = fuzz.ratio
        make = _pair_factory()
        out: list[ScoredPair] = []
        append = out.append
        for i, j in pairs:
            a = feats[i]
            b = feats[j]
            evidence: list[Evidence] = []
            add = evidence.append
            total = 0.0
            level: str | None

            pa, pb = a.person, b.person
            if pa is not None and pb is not None:
                level = compare_person_names(pa[0], pa[1], pb[0], pb[1])
            else:
                x, y = a.name, b.name
                if x is None or y is None:
                    level = None
                elif x == y:
                    level = "exact"
                elif a.name_compact == b.name_compact:
                    level = "high"
                else:
                    level = name_cache.get((x, y))
                    if level is None:
                        r = token_set_ratio(x, y, score_cutoff=_NAME_LOW)
                        level = (
                            "high" if r >= _NAME_HIGH else
                            "medium" if r >= _NAME_MEDIUM else
                            "low" if r >= _NAME_LOW else "disagree"
                        )
                        if len(name_cache) >= _NAME_CACHE_MAX:
                            name_cache.clear()
                        name_cache[(x, y)] = level
            if level is not None:
                ev = p_name[level] or slow(0, level, a, b)
                add(ev)
                total += ev.weight

            x, y = a.email, b.email
            if x is not None and y is not None:
                if x == y:
                    level = "exact"
                elif a.email_local is not None and a.email_local == b.email_local:
                    level = "local"
                elif a.email_domain is not None and a.email_domain == b.email_domain:
                    level = "domain"
                else:
                    level = "disagree"
                ev = p_email[level] or slow(1, level, a, b)
                add(ev)
                total += ev.weight

            x, y = a.phone, b.phone
            if x is not None and y is not None:
                if x == y:
                    level = "exact"
                elif a.phone7 is not None and a.phone7 == b.phone7:
                    level = "last7"
                else:
                    level = "disagree"
                ev = p_phone[level] or slow(2, level, a, b)
                add(ev)
                total += ev.weight

            x, y = a.street, b.street
            if x is not None and y is not None:
                if a.house is not None and b.house is not None and a.house != b.house:
                    level = "disagree"
                elif x != y and ratio(x, y, score_cutoff=_STREET_HIGH) < _STREET_HIGH:
                    level = "disagree"
                elif a.unit is not None and b.unit is not None and a.unit != b.unit:
                    level = "unit_conflict"
                elif x == y and a.unit == b.unit:
                    level = "exact"
                else:
                    level = "high"
                ev = p_addr[level] or slow(3, level, a, b)
                add(ev)
                total += ev.weight

            x, y = a.postal, b.postal
            if x is not None and y is not None:
                if x == y:
                    level = "exact"
                elif a.postal3 is not None and a.postal3 == b.postal3:
                    level = "prefix3"
                else:
                    level = "disagree"
                ev = p_postal[level] or slow(4, level, a, b)
                add(ev)
                total += ev.weight

            level = _city_level(a, b)
            if level is not None:
                ev = p_city[level] or slow(5, level, a, b)
                add(ev)
                total += ev.weight

            if a.website is not None or b.website is not None:
                level = _domain_level(a, b)
                if level is not None:
                    ev = p_domain[level] or slow(6, level, a, b)
                    add(ev)
                    total += ev.weight

            append(make(i, j, total, tuple(evidence)))
        return out


def _pair_factory() -> Callable[[int, int, float, tuple[Evidence, ...]], ScoredPair]:
    """A ScoredPair constructor that skips the frozen dataclass's per-field object.__setattr__.

    ScoredPair has slots and no __post_init__, so setting the slots directly builds the
    same object (equal, hashable, immutable afterwards) in about half the time.
    """
    new = object.__new__
    set_left, set_right, set_score, set_evidence = (
        ScoredPair.__dict__[name].__set__ for name in ("left", "right", "score", "evidence")
    )

    def make(left: int, right: int, score: float, evidence: tuple[Evidence, ...]) -> ScoredPair:
        pair = new(ScoredPair)
        set_left(pair, left)
        set_right(pair, right)
        set_score(pair, score)
        set_evidence(pair, evidence)
        return pair

    return make


#: Which ValueFrequencies counter discounts each discounted level (see scoring.discount_value).
_COUNTER: Final = {
    ("name", "exact"): "name",
    ("email", "exact"): "email",
    ("email", "local"): "email_local",
    ("email", "domain"): "domain",
    ("phone", "exact"): "phone",
    ("postal", "exact"): "postal",
    ("domain", "exact"): "domain",
}
