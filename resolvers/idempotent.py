"""Run a mutation at most once per idempotency key (architecture.md: "nothing is written twice").

Why results are JSON: the first result must be returned again to a retry, possibly by
another gateway process or after a restart, so it lives in the xref database; a replay
rebuilds the GraphQL answer from it (the customer itself is read live again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from xref import Claimed, IdempotencyStore, InProgress, Mismatch, Replay, request_hash

#: How long a request waits for a twin request (same key, same input) that is still running.
WAIT_FOR_TWIN_S = 30.0

Result = dict[str, Any]


async def once(
    store: IdempotencyStore | None,
    key: str | None,
    operation: str,
    payload: Mapping[str, Any],
    run: Callable[[], Awaitable[Result]],
    *,
    keep: Callable[[Result], bool] | None = None,
) -> Result:
    """`run()`'s result, or the stored result of the first request with this key and input.

    `keep(result)` False gives the key up instead of storing the result, so a retry with
    the same key runs again: for answers that are not final (a failed step that a re-run
    resumes, a create that could not reach its system).
    """
    if key is None or store is None:
        return await run()
    digest = request_hash(operation, payload)
    claim = await store.claim(key, operation, digest)
    if isinstance(claim, InProgress):
        claim = await store.wait_for(key, timeout_s=WAIT_FOR_TWIN_S)
    if isinstance(claim, Replay):
        return {**claim.result, "replayed": True}
    if isinstance(claim, Mismatch):
        return {"type": "IdempotencyKeyReused", "key": key,
                "message": f"idempotency key {key!r} was used for a different request "
                           f"({claim.operation}, other input); use a new key for a new request"}
    if not isinstance(claim, Claimed):
        return {"type": "WriteInProgress", "key": key,
                "message": f"a request with idempotency key {key!r} is still running; retry later"}
    try:
        result = await run()
    except BaseException:
        await store.release(key, claim.owner)  # nothing recorded: a retry may run it afresh
        raise
    if keep is not None and not keep(result):
        await store.release(key, claim.owner)
        return result
    await store.complete(key, claim.owner, result)
    return result
