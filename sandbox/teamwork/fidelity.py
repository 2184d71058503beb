"""Every Teamwork behaviour that source-apis.md marks "(verify)", decided in one place.

Each constant names the choice the simulator makes where the public documentation
was not conclusive; change it here when a real site is checked.
"""

from __future__ import annotations

from typing import Final

#: Path prefix of the v3 API; everything else on the host is the v1 API.
V3_PREFIX: Final = "/projects/api/v3"

# --- paging -------------------------------------------------------------------------------
V3_DEFAULT_PAGE_SIZE: Final = 50
#: Largest v3 pageSize public clients use (verify). Larger requests are clamped, not refused.
V3_MAX_PAGE_SIZE: Final = 500
#: v1 lists page too (X-Page/X-Pages/X-Records headers, also on /companies.json: verify).
V1_DEFAULT_PAGE_SIZE: Final = 50
V1_MAX_PAGE_SIZE: Final = 500

# --- search -------------------------------------------------------------------------------
#: v3 `searchTerm` is a case-insensitive substring match on these company fields (verify:
#: the real search may cover the name only; the connector filters results client-side anyway).
SEARCH_FIELDS: Final = ("name", "emailOne", "emailTwo", "emailThree", "phone")

# --- validation and writes ----------------------------------------------------------------
#: HTTP status of a validation failure (missing name, bad types): 400 or 422 (verify).
VALIDATION_STATUS: Final = 422
#: v3 writes take `countrycode` (as Teamwork's Go SDK sends it); `countryCode` is accepted too,
#: and `countrycode` wins when both are present.
ACCEPT_CAMEL_COUNTRY_CODE_ON_WRITE: Final = True
#: Refusing to delete the site-owner company (status; verify).
OWNER_DELETE_STATUS: Final = 403
#: DELETE removes the company (a later GET is 404) rather than flagging it `status: "deleted"`.
DELETE_REMOVES_RECORD: Final = True
#: `updatedAt` has whole-second resolution like the documented sample; every write moves it
#: forward by at least one second so that it can serve as a version (the connector relies on it).
UPDATED_AT_STRICTLY_INCREASES: Final = True

# --- v1 shapes ----------------------------------------------------------------------------
#: v1 company timestamp keys (exact names: verify), values `YYYY-MM-DDTHH:MM:SSZ`.
V1_COMPANY_CREATED_KEY: Final = "created_on"
V1_COMPANY_UPDATED_KEY: Final = "last_changed_on"
#: v1 owner flag on companies, as on a project's `company` object: "1"/"0".
V1_OWNER_KEY: Final = "is-owner"
#: Body of v1 `POST /companies.json` (shape: verify); projects answer `{"id": "123"}` (documented).
V1_COMPANY_CREATED_BODY_KEYS: Final = ("STATUS", "id")
#: v1 `/projects.json` without `status` lists active projects only.
V1_DEFAULT_PROJECT_STATUS: Final = "ACTIVE"

# --- v3 projects --------------------------------------------------------------------------
#: v3 project dates (`startAt`, `endAt`) as ISO dates `YYYY-MM-DD`, or null (keys: verify).
V3_PROJECT_DATE_FORMAT: Final = "%Y-%m-%d"
#: v3 `projects.json` returns every status unless `projectStatuses=` narrows it (verify).
V3_PROJECTS_DEFAULT_STATUSES: Final[tuple[str, ...] | None] = None

# --- rate limiting ------------------------------------------------------------------------
#: Documented Projects limit (verify per plan). Enabled only when configured:
#: FaultSettings(rate_limit_per_minute=DOCUMENTED_RATE_LIMIT_PER_MINUTE).
DOCUMENTED_RATE_LIMIT_PER_MINUTE: Final = 150
RATE_LIMIT_MESSAGE: Final = "You have exceeded your rate limit. Please wait a minute before trying again."
#: Whether 429s carry Retry-After (verify). We send it; clients must also cope without it
#: (FaultSettings.send_retry_after=False), falling back to X-Rate-Limit-Reset.
SEND_RETRY_AFTER: Final = True
#: X-Rate-Limit-Reset is the whole number of seconds until a call is allowed again
#: (not an epoch; verify). 0 when calls are allowed now.
RATE_LIMIT_RESET_IS_EPOCH: Final = False

# --- webhooks (source-apis.md 2.5) ----------------------------------------------------------
#: Events a registration may name. Only these writes exist in the sandbox, so only they fire:
#: COMPANY.CREATED/UPDATED/DELETED (v1 and v3) and PROJECT.CREATED (v1 POST /projects.json).
WEBHOOK_EVENTS: Final = frozenset({
    "COMPANY.CREATED", "COMPANY.UPDATED", "COMPANY.DELETED",
    "PROJECT.CREATED", "PROJECT.UPDATED", "PROJECT.DELETED", "PROJECT.ARCHIVED", "PROJECT.COMPLETED",
    "PROJECT.REOPENED",
})
#: The sandbox sends JSON payload version 2 only (Teamwork also offers XML/form and version 1);
#: registrations asking for anything else are refused rather than silently sent JSON v2.
WEBHOOK_PAYLOAD_VERSIONS: Final = frozenset({"2"})
#: `eventCreator` of changes made with the sandbox API key (whose user it is is not modelled).
WEBHOOK_EVENT_CREATOR: Final = {"id": 238861, "firstName": "API", "lastName": "User", "avatar": ""}
#: The company object of a COMPANY.* payload is the v3 company (payload fields: verify). COMPANY.DELETED
#: carries the company as it was, with status "deleted" and the deletion time as updatedAt.
WEBHOOK_USER_AGENT: Final = "Teamwork-Webhooks/2.0"
#: Only 200 counts as delivered ("any other code, 3xx included, is a failure"); the answer must come
#: within 5 s. Teamwork retries once an hour, 3 attempts in all; the sandbox pauses `backoff_s`
#: (then twice as long each time) instead of an hour. Runtime-settable: PATCH /_admin/deliveries.
WEBHOOK_TIMEOUT_S: Final = 5.0
WEBHOOK_ATTEMPTS: Final = 3
WEBHOOK_BACKOFF_S: Final = 1.0
#: A registration is deactivated after this many dropped events in a row (a successful delivery
#: resets the count; saving the registration again with PUT reactivates it).
WEBHOOK_DEACTIVATE_AFTER_DROPPED: Final = 3
