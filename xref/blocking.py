"""Blocking: the candidate pairs worth scoring, found without comparing every record with every other.

Records sharing a key value (see `xref._block_keys.DEFAULT_KEYS`: email, phone, company
domain, postal code + name prefix, name tokens, street + postal code, family-name sound,
and a sorted-neighbourhood pass over all names) form a block, and only pairs inside a
block are candidates. Pairs inside one system are candidates too: duplicates within a
system are real.

Cost stays close to linear in the number of records because no block is compared in
full above `max_block` records. A value shared by thousands (a bookkeeper's inbox, a
"smith" sound, a big postal code) is either skipped or, by default, walked with a
sorted-neighbourhood window: sorted on other attributes, each record is paired with the
next `window` records only. Either way it is counted in `BlockingStats`, so a run can
say what it did not compare.

Pure functions over `MatchRecord`s; no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from xref._block_keys import DEFAULT_KEYS, KeyFamily, TokenRarity, soundex
from xref._match_types import MatchRecord

__all__ = [
    "DEFAULT_KEYS",
    "DEFAULT_MAX_BLOCK",
    "DEFAULT_WINDOW",
    "Blocking",
    "BlockingStats",
    "KeyFamily",
    "KeyStats",
    "block_keys",
    "block_records",
    "candidate_pairs",
    "soundex",
    "token_rarity",
]

#: A block this size is compared in full (<= 496 pairs); one customer rarely has a tenth of that.
DEFAULT_MAX_BLOCK: Final = 32
#: Neighbours each record is paired with inside an oversized block.
DEFAULT_WINDOW: Final = 8

Oversize = Literal["window", "skip"]


@dataclass(slots=True)
class KeyStats:
    """What one key family did: blocks of two or more, the pairs it produced, what it left out."""

    blocks: int = 0
    largest_block: int = 0
    #: Pairs the family produced, including those another family had already found.
    pairs: int = 0
    #: Pairs no earlier family (in key order) had found: what this key adds.
    new_pairs: int = 0
    windowed_blocks: int = 0
    skipped_blocks: int = 0
    #: Records in skipped blocks (a record may count once per skipped block).
    skipped_records: int = 0


@dataclass(slots=True)
class BlockingStats:
    """Per key family `KeyStats`, and the totals of the run."""

    records: int = 0
    pairs: int = 0
    keys: dict[str, KeyStats] = field(default_factory=dict)

    @property
    def pairs_per_record(self) -> float:
        return self.pairs / self.records if self.records else 0.0

    @property
    def skipped_blocks(self) -> int:
        return sum(k.skipped_blocks for k in self.keys.values())

    @property
    def windowed_blocks(self) -> int:
        return sum(k.windowed_blocks for k in self.keys.values())


@dataclass(frozen=True, slots=True)
class Blocking:
    """The candidate pairs (i < j by `MatchRecord.index`, each once, sorted) and how they were found."""

    pairs: list[tuple[int, int]]
    stats: BlockingStats


def token_rarity(records: Iterable[MatchRecord]) -> Counter[str]:
    """How many records carry each name token; the blocking keys prefer rare tokens."""
    counts: Counter[str] = Counter()
    for record in records:
        counts.update(record.name_tokens)
    return counts


def block_keys(
    record: MatchRecord, rarity: TokenRarity | None = None, *, keys: Sequence[KeyFamily] = DEFAULT_KEYS
) -> list[tuple[str, str]]:
    """A record's (family, value) keys; for finding candidates of one record against an index.

    Without `rarity` every token counts as equally rare, so "rarest" falls back to the
    alphabetically first tokens: pass the run's `token_rarity` when there is one, or the
    keys will not line up with those of `block_records`.
    """
    table: TokenRarity = rarity if rarity is not None else {}
    return [(family.name, value) for family in keys for value in family.values(record, table)]


def candidate_pairs(
    records: Sequence[MatchRecord],
    *,
    max_block: int = DEFAULT_MAX_BLOCK,
    window: int = DEFAULT_WINDOW,
    oversize: Oversize = "window",
    keys: Sequence[KeyFamily] = DEFAULT_KEYS,
) -> list[tuple[int, int]]:
    """The candidate pairs of `block_records`, without the stats."""
    return block_records(records, max_block=max_block, window=window, oversize=oversize, keys=keys).pairs


def block_records(
    records: Sequence[MatchRecord],
    *,
    max_block: int = DEFAULT_MAX_BLOCK,
    window: int = DEFAULT_WINDOW,
    oversize: Oversize = "window",
    keys: Sequence[KeyFamily] = DEFAULT_KEYS,
) -> Blocking:
    """Candidate pairs (i, j), i < j by `MatchRecord.index`, each once, sorted; and the stats.

    The result depends on the records, not on their order in `records`. Indices must be
    unique. A block larger than `max_block` is walked with a window of `window` neighbours
    (`oversize="window"`) or left out (`oversize="skip"`); see `BlockingStats`.
    """
    if max_block < 2 or window < 1:
        raise ValueError("max_block must be >= 2 and window >= 1")
    ordered = sorted(records, key=lambda r: r.index)
    for previous, current in zip(ordered, ordered[1:]):
        if previous.index == current.index:
            raise ValueError(f"two records with index {current.index}")
    rarity = token_rarity(ordered)
    stats = BlockingStats(records=len(ordered))
    # Pairs are kept as one int (i * stride + j): a set of ints is a fraction of a set of tuples.
    stride = (ordered[-1].index + 1) if ordered else 1
    seen: set[int] = set()
    for family in keys:
        key_stats = stats.keys.setdefault(family.name, KeyStats())
        # One family at a time, so only one family's blocks are in memory.
        for members in _blocks(ordered, family, rarity):
            _pair_block(members, family, key_stats, seen, stride, max_block, window, oversize)
    stats.pairs = len(seen)
    pairs = [divmod(code, stride) for code in sorted(seen)]
    return Blocking(pairs=pairs, stats=stats)


def _blocks(records: Sequence[MatchRecord], family: KeyFamily, rarity: TokenRarity) -> Iterable[list[MatchRecord]]:
    by_value: defaultdict[str, list[MatchRecord]] = defaultdict(list)
    for record in records:
        # dict.fromkeys: a family that yields one value twice must not pair a record with itself.
        for value in dict.fromkeys(family.values(record, rarity)):
            by_value[value].append(record)
    # Sorted by value so counters and windows do not depend on hash order.
    for value in sorted(by_value):
        members = by_value[value]
        if len(members) > 1:
            yield members


def _pair_block(
    members: list[MatchRecord],
    family: KeyFamily,
    stats: KeyStats,
    seen: set[int],
    stride: int,
    max_block: int,
    window: int,
    oversize: Oversize,
) -> None:
    size = len(members)
    stats.blocks += 1
    stats.largest_block = max(stats.largest_block, size)
    if size > max_block:
        if oversize == "skip" and family.window is None:
            stats.skipped_blocks += 1
            stats.skipped_records += size
            return
        stats.windowed_blocks += 1
        members = sorted(members, key=lambda r: (family.order(r), r.index))
        reach = family.window or window
    else:
        reach = size
    indices = [r.index for r in members]
    before = len(seen)
    produced = 0
    for a, i in enumerate(indices):
        for j in indices[a + 1 : a + 1 + reach]:
            seen.add(i * stride + j if i < j else j * stride + i)
            produced += 1
    stats.pairs += produced
    stats.new_pairs += len(seen) - before
