"""Every SharePoint/Graph behaviour that source-apis.md marks "(verify)", decided in one place.

Each constant names the choice the simulator makes where the public documentation
was not conclusive; change it here when a real tenant is checked.
"""

from __future__ import annotations

from typing import Final

#: Path prefix of Graph on the simulator (the real host serves `https://graph.microsoft.com/v1.0`).
GRAPH_PREFIX: Final = "/v1.0"

# --- auth -----------------------------------------------------------------------------------
#: `expires_in` of a client-credentials token (Entra ID gives 60-90 min; the docs' sample says 3599).
TOKEN_LIFETIME_S: Final = 3599
#: The token endpoint is a different service (login.microsoftonline.com) in reality, so Graph's
#: outages and throttling do not apply to it.
TOKEN_ENDPOINT_SUBJECT_TO_FAULTS: Final = False

# --- paging ---------------------------------------------------------------------------------
#: Default and maximum `$top` of list items are not documented (verify); 200 for both here.
DEFAULT_TOP: Final = 200
MAX_TOP: Final = 200
#: A `$top` above the maximum is clamped rather than refused (verify).
CLAMP_TOP: Final = True

# --- filters --------------------------------------------------------------------------------
#: `or` in `$filter` on list items is not confirmed (verify); the simulator supports it.
FILTER_SUPPORTS_OR: Final = True
#: SharePoint text comparisons (eq, ne, startswith) ignore case.
FILTER_CASE_INSENSITIVE: Final = True
#: Columns indexed on the list by default; filtering any other column needs the Prefer header.
DEFAULT_INDEXED_COLUMNS: Final = frozenset({"id"})
PREFER_NON_INDEXED: Final = "HonorNonIndexedQueriesWarningMayFailRandomly"

# --- item shape -----------------------------------------------------------------------------
#: Item `eTag`/`@odata.etag` look like `"{GUID-UPPER},N"`, the `fields` one like `"guid-lower,N"`
#: (source-apis.md 1.4 "shapes seen"). If-Match accepts either shape.
ITEM_ETAG_BRACED_UPPER: Final = True
#: Whether an `ETag` response header accompanies single-item responses (verify).
SEND_ETAG_HEADER: Final = True
#: Empty columns are left out of `fields` rather than sent as null (verify).
OMIT_EMPTY_COLUMNS: Final = True
#: The list title is accepted in place of the list GUID in paths (verify).
ACCEPT_LIST_TITLE: Final = True
#: The lookup display value (`Customer`) only comes back when named in `fields(select=...)` (verify).
LOOKUP_VALUE_ONLY_WHEN_SELECTED: Final = True
#: Site-relative path of the web (root site of the sandbox host), used in webUrl.
SITE_WEB_PATH: Final = ""

# --- writes ---------------------------------------------------------------------------------
#: Choice values accepted for CustomerStatus ("fill-in" disabled, so others are refused; verify).
CUSTOMER_STATUS_CHOICES: Final = frozenset({"lead", "active"})
DOCUMENT_TYPE_CHOICES: Final = frozenset({"proposal", "sow", "contract", "other"})
#: Title is a required column, as on a default SharePoint list.
TITLE_REQUIRED: Final = True
#: `error.code` of a 412 on a stale If-Match is undocumented (seen: resourceModified/preconditionFailed).
PRECONDITION_FAILED_CODE: Final = "resourceModified"
PRECONDITION_FAILED_MESSAGE: Final = "The resource has been modified since it was last read. Re-read it and retry."
#: Who an app-only write shows as editor (SharePoint shows the app principal as "SharePoint App").
APP_EDITOR_LOOKUP_ID: Final = "1073741822"
APP_EDITOR_NAME: Final = "SharePoint App"
#: Who an out-of-band edit through the admin endpoint shows as (a person using the SharePoint UI).
HUMAN_EDITOR: Final = {"id": "6", "email": "mark@contoso.com", "displayName": "Mark Matkowski"}

# --- $batch ---------------------------------------------------------------------------------
MAX_BATCH_REQUESTS: Final = 20
#: Responses may come in any order; the simulator returns them reversed so clients must match on id.
BATCH_RESPONSES_REVERSED: Final = True

# --- faults ---------------------------------------------------------------------------------
#: Whether a 503 during an outage carries Retry-After (Graph sometimes sends one; verify).
OUTAGE_RETRY_AFTER_S: Final[int | None] = None

# --- delta (change tracking, source-apis.md 1.6) ------------------------------------------------
#: How long a deltaLink stays usable. Graph documents expiry (410) but not the period; SharePoint's
#: change log is commonly kept about 30 days (verify). After it: 410 resyncChangesApplyDifferences.
DELTA_TOKEN_LIFETIME_S: Final = 30 * 24 * 3600
#: Item properties a delta response leaves out ("lastModifiedBy reported missing"; verify the full list).
DELTA_OMITTED_PROPERTIES: Final = ("lastModifiedBy",)

# --- change notifications (source-apis.md 1.7) ----------------------------------------------------
#: Lists accept only "updated" (creates and deletes arrive as "updated" too).
LIST_CHANGE_TYPES: Final = frozenset({"updated"})
#: Longest subscription lifetime for a SharePoint list.
MAX_SUBSCRIPTION_MINUTES: Final = 42_300
MAX_CLIENT_STATE_LENGTH: Final = 128
#: notificationUrl must be https; the sandbox also takes http on 127.0.0.1/localhost (the docs allow it for it).
ALLOW_HTTP_ON_LOOPBACK: Final = True
#: Graph waits this long for the validation echo, then refuses the subscription.
VALIDATION_TIMEOUT_S: Final = 10.0
#: The echo must come back as text/plain (documented); a JSON echo fails validation.
VALIDATION_NEEDS_TEXT_PLAIN: Final = True
#: A notification not answered 2xx within this time counts as failed and is retried.
NOTIFICATION_TIMEOUT_S: Final = 3.0
#: Graph retries for up to 4 h; the sandbox retries `attempts` times in all, pausing `backoff_s`,
#: then twice as long each time (runtime-settable: PATCH /_admin/deliveries).
NOTIFICATION_ATTEMPTS: Final = 4
NOTIFICATION_BACKOFF_S: Final = 1.0
#: Changes this close together share one POST per receiver URL (Graph batches notifications;
#: how long it waits is undocumented). 0 = the changes of one request.
NOTIFICATION_DELAY_MS: Final = 0.0
#: Notification bodies: `resourceData` is `{}` (minimal; verify), `subscriptionExpirationDateTime` is
#: ISO with `+00:00` (as in the documented sample), `tenantId` a GUID derived from the sandbox tenant
#: name, `clientState` present only when the subscription has one. The validation token is Graph's
#: readable text ("Validation: Testing client application reachability ...", spaces and colons
#: included), so receivers must URL-decode it.
#: `error.code` of a subscription that does not exist (or expired) on GET/PATCH/DELETE (verify).
SUBSCRIPTION_NOT_FOUND_CODE: Final = "ResourceNotFound"
#: `creatorId` of subscriptions made by the app (the service principal's object id; any GUID will do).
SUBSCRIPTION_CREATOR_ID: Final = "8ee44408-0679-472c-bc2a-692812af3437"
