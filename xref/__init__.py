"""The identity index (xref): golden customer ids and the source records linked to each.

Stores identities only (architecture.md, "The one rule"): which (system, record id)
pairs make a customer, with confidence and evidence, never names, emails or addresses.
"""

from xref._errors import InvalidCursor, XrefError
from xref._migrate import alembic_config, upgrade
from xref._models import (
    AuditRecord,
    Base,
    Decision,
    GoldenCustomer,
    IdempotencyKey,
    Link,
    MatchRun,
    OutboxOperation,
    ReviewItem,
    new_golden_id,
)
from xref._stewardship import (
    DIFFERENT,
    SAME,
    DecisionInfo,
    ReviewCandidate,
    ReviewInfo,
    ReviewPage,
    ReviewSync,
    Stewardship,
    pair_key,
)
from xref._service import MAX_PAGE_SIZE, LinkOutcome, RemovedLinks, XrefService, customer_cursor
from xref._types import ApplyResult, CustomerInfo, CustomerPage, LinkInfo
from xref.audit import MAX_AUDIT_PAGE, AuditEntry, AuditLog, AuditPage, audit_cursor
from xref.bulk import MatchSummary, run_bulk_match
from xref.candidates import Candidate, CandidateSearch, find_candidates
from xref.db import create_engine, create_sessions
from xref.evaluate import Evaluation, evaluate_service
from xref.export import export_links
from xref.idempotency import (
    Claim,
    Claimed,
    IdempotencyClaimLost,
    IdempotencyStore,
    InProgress,
    Mismatch,
    Replay,
    request_hash,
)
from xref.incremental import IncrementalResult, MatchAction, match_one
from xref._sync_models import OwnWrite, SyncCheckpoint, SeenDelivery
from xref.sync_state import Checkpoint, SyncState
from xref.reconcile_runs import (
    MAX_RUNS_LISTED,
    ReconcileRun,
    ReconcileRunInfo,
    ReconcileRuns,
    SummaryNotCountsOnly,
)
from xref.outbox import (
    OUTBOX_STATUSES,
    Outbox,
    OutboxEntry,
    OutboxError,
    OutboxStatus,
    UnknownOutboxEntry,
    backoff_delay,
)
from xref.steward import (
    InvalidStewardAction,
    StewardActionError,
    StewardActions,
    StewardOutcome,
    UnknownCustomer,
    UnknownRecord,
    UnknownReviewItem,
    steward_name,
)

__all__ = [
    "DIFFERENT",
    "SAME",
    "Decision",
    "DecisionInfo",
    "ReviewCandidate",
    "ReviewInfo",
    "ReviewItem",
    "ReviewPage",
    "ReviewSync",
    "Stewardship",
    "pair_key",
    "InvalidStewardAction",
    "StewardActionError",
    "StewardActions",
    "StewardOutcome",
    "UnknownCustomer",
    "UnknownRecord",
    "UnknownReviewItem",
    "steward_name",
    "MAX_PAGE_SIZE",
    "Candidate",
    "CandidateSearch",
    "IncrementalResult",
    "LinkOutcome",
    "RemovedLinks",
    "MatchAction",
    "find_candidates",
    "match_one",
    # change tracking: feed checkpoints, handled deliveries, own writes
    "Checkpoint",
    "OwnWrite",
    "SeenDelivery",
    "SyncCheckpoint",
    "SyncState",
    "Evaluation",
    "MatchSummary",
    "ApplyResult",
    "Base",
    "CustomerInfo",
    "CustomerPage",
    "GoldenCustomer",
    "InvalidCursor",
    "Link",
    "LinkInfo",
    "MatchRun",
    "XrefError",
    "XrefService",
    "alembic_config",
    "create_engine",
    "create_sessions",
    "customer_cursor",
    "evaluate_service",
    "export_links",
    "new_golden_id",
    "run_bulk_match",
    "upgrade",
    # write path: outbox, idempotency keys, audit log
    "OUTBOX_STATUSES",
    "Outbox",
    "OutboxEntry",
    "OutboxError",
    "OutboxOperation",
    "OutboxStatus",
    "UnknownOutboxEntry",
    "backoff_delay",
    "Claim",
    "Claimed",
    "IdempotencyClaimLost",
    "IdempotencyKey",
    "IdempotencyStore",
    "InProgress",
    "Mismatch",
    "Replay",
    "request_hash",
    "MAX_AUDIT_PAGE",
    "AuditEntry",
    "AuditLog",
    "AuditPage",
    "AuditRecord",
    "audit_cursor",
    # reconciliation run summaries (counts only)
    "MAX_RUNS_LISTED",
    "ReconcileRun",
    "ReconcileRunInfo",
    "ReconcileRuns",
    "SummaryNotCountsOnly",
]
