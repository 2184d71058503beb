"""Every QuickBooks behaviour the docs leave open ("(verify)" in source-apis.md), decided in one place.

Each constant names the choice the simulator makes, so checking it against a real
company and flipping it is a one-line change.
"""

from __future__ import annotations

# --- versions -------------------------------------------------------------------------
#: Intuit retired minor versions below 75 in 2025 and announced that older values are
#: served as 75. We do the same (accept and ignore). Set to an int to reject lower values
#: with REJECTED_MINORVERSION_FAULT instead.
REJECT_MINORVERSION_BELOW: int | None = None
REJECTED_MINORVERSION_FAULT = ("2010", "Request has invalid or unsupported property", "minorversion")

# --- company ----------------------------------------------------------------------------
#: MetaData and `time` carry the company's local offset (source-apis.md 3.3).
COMPANY_TIMEZONE = "America/Los_Angeles"
DEFAULT_CURRENCY = {"value": "USD", "name": "United States Dollar"}

# --- OAuth ------------------------------------------------------------------------------
ACCESS_TOKEN_TTL_S = 3600
REFRESH_TOKEN_TTL_S = 8_726_400  # about 101 days, as `x_refresh_token_expires_in` reports
#: After a refresh the previous refresh token keeps working this long (Intuit documents a
#: rolling token; how long the old one survives is not documented, 24 h is commonly seen).
REFRESH_TOKEN_GRACE_S = 24 * 3600
AUTHORIZATION_CODE_TTL_S = 300

# --- query ------------------------------------------------------------------------------
DEFAULT_MAX_RESULTS = 100
MAX_MAX_RESULTS = 1000
#: MAXRESULTS above the maximum is clamped (True) or refused with a parse fault (False).
CLAMP_MAX_RESULTS = True
#: The response's `maxResults` is the number of entities returned, not the number asked for
#: (what Intuit's responses show on the last page).
RESPONSE_MAX_RESULTS_IS_COUNT = True
#: `=` and LIKE on strings ignore case (QBO's query engine sits on a case-insensitive collation).
CASE_INSENSITIVE_STRINGS = True
#: Parse errors and unsupported filters. Intuit documents 4000 "Error parsing query"; some
#: responses for a non-queryable property show 4001 "Invalid query" (verify).
QUERY_PARSE_FAULT = ("4000", "Error parsing query")
QUERY_NOT_QUERYABLE_FAULT = ("4000", "Error parsing query")
#: Inside a quoted literal a backslash escapes the next character (`\'` and `\\`).
BACKSLASH_ESCAPES_ANY_CHARACTER = True

#: Filterable fields; anything else (PrimaryPhone, BillAddr, ...) is "not queryable".
#: Dotted aliases: a sub-object name alone means its main value (`PrimaryEmailAddr` = its Address).
CUSTOMER_QUERYABLE = {
    "Id": ("Id", "id"),
    "DisplayName": ("DisplayName", "str"),
    "FullyQualifiedName": ("FullyQualifiedName", "str"),
    "GivenName": ("GivenName", "str"),
    "FamilyName": ("FamilyName", "str"),
    "CompanyName": ("CompanyName", "str"),
    "PrimaryEmailAddr": ("PrimaryEmailAddr.Address", "str"),
    "PrimaryEmailAddr.Address": ("PrimaryEmailAddr.Address", "str"),
    "Active": ("Active", "bool"),
    "Balance": ("Balance", "num"),
    "Job": ("Job", "bool"),
    "MetaData.CreateTime": ("MetaData.CreateTime", "datetime"),
    "MetaData.LastUpdatedTime": ("MetaData.LastUpdatedTime", "datetime"),
}
INVOICE_QUERYABLE = {
    "Id": ("Id", "id"),
    "DocNumber": ("DocNumber", "str"),
    "TxnDate": ("TxnDate", "date"),
    "DueDate": ("DueDate", "date"),
    "TotalAmt": ("TotalAmt", "num"),
    "Balance": ("Balance", "num"),
    "CustomerRef": ("CustomerRef.value", "id"),
    "CustomerRef.value": ("CustomerRef.value", "id"),
    "MetaData.CreateTime": ("MetaData.CreateTime", "datetime"),
    "MetaData.LastUpdatedTime": ("MetaData.LastUpdatedTime", "datetime"),
}

# --- customers ----------------------------------------------------------------------------
#: Intuit shows inactive customers as "Name (deleted)" (verify). Off: the name stays as stored.
#: When on, the suffix is only added on the way out; duplicate checks use the stored name.
APPEND_DELETED_SUFFIX = False
DELETED_SUFFIX = " (deleted)"
#: Longest accepted value per field (2050 beyond that).
FIELD_MAX_LENGTHS = {
    "DisplayName": 500,
    "Title": 16,
    "GivenName": 100,
    "MiddleName": 100,
    "FamilyName": 100,
    "Suffix": 16,
    "CompanyName": 100,
    "PrimaryEmailAddr.Address": 100,
    "PrimaryPhone.FreeFormNumber": 30,
    "Notes": 2000,
    "BillAddr.Line1": 500,
    "BillAddr.Line2": 500,
    "BillAddr.City": 255,
    "BillAddr.CountrySubDivisionCode": 255,
    "BillAddr.PostalCode": 30,
    "BillAddr.Country": 255,
}
#: Fields a client may write; anything else in a write body is fault 2010.
CUSTOMER_WRITABLE = frozenset({
    "DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "CompanyName",
    "PrimaryEmailAddr", "PrimaryPhone", "Mobile", "Fax", "AlternatePhone", "WebAddr",
    "BillAddr", "ShipAddr", "Notes", "Active", "Job", "ParentRef", "BillWithParent",
    "Taxable", "CurrencyRef", "PrintOnCheckName", "PreferredDeliveryMethod",
    # Real Customer properties c360 does not use, stored as sent: python-quickbooks puts them
    # (empty/false) in every Customer it writes, and QBO accepts them.
    "IsProject", "ResaleNum", "OpenBalanceDate", "PrimaryTaxIdentifier",
})
#: Sent by clients that echo a whole read record back; accepted and ignored on writes.
CUSTOMER_READ_ONLY = frozenset({
    "Id", "SyncToken", "sparse", "domain", "MetaData", "Balance", "BalanceWithJobs",
    "FullyQualifiedName", "time", "status", "Level",
})
#: An invoice change moves the customer's Balance; whether that also bumps its SyncToken is
#: undocumented (verify). Off: only Balance/BalanceWithJobs change.
BALANCE_CHANGE_BUMPS_SYNC_TOKEN = False

# --- writes ---------------------------------------------------------------------------------
#: A repeated `requestid` returns the first *successful* response without writing again;
#: a failed write may be retried with the same requestid (verify semantics).
REQUESTID_CACHE_SIZE = 10_000

# --- batch ------------------------------------------------------------------------------------
MAX_BATCH_ITEMS = 30  # older docs say 30, a recent sample uses 50 (verify)
BATCH_TOO_LARGE_FAULT = ("1040", "Too many batch items", "BatchItemRequest")
#: Answer items in a shuffled order so clients must match on bId, as the docs warn.
SHUFFLE_BATCH_RESPONSES = True
#: Customers cannot be deleted; a batch `delete` on one gets this per-item Fault.
UNSUPPORTED_OPERATION_FAULT = ("500", "Unsupported Operation")

# --- limits (source-apis.md 3.8) --------------------------------------------------------------
RATE_LIMIT_PER_MINUTE = 500
MAX_CONCURRENT_REQUESTS = 10
BATCH_REQUESTS_PER_MINUTE = 40
THROTTLE_MESSAGE = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
THROTTLE_CODE = "3001"
#: Whether Intuit sends Retry-After on 429 is not confirmed; the sandbox sends it (seconds).
SEND_RETRY_AFTER = True

# --- change data capture (source-apis.md 3.5) -------------------------------------------------
#: How far back `changedSince` may reach; older asks get CDC_TOO_OLD_FAULT (code/message: verify).
CDC_MAX_DAYS_BACK = 30
CDC_TOO_OLD_FAULT = ("2010", "Request has invalid or unsupported property")
#: At most this many objects per entity in one response (the oldest changes first; cap: verify).
CDC_MAX_PER_ENTITY = 1000
#: An entity asked for without changes comes back as an empty object (it "may be absent or an
#: empty object"; python-quickbooks copes with both).
CDC_EMPTY_ENTITY_AS_EMPTY_OBJECT = True
#: `changedSince` is inclusive: a record updated in that very second is returned again (the
#: timestamps have whole seconds; a client deduplicates rather than misses; verify).
CDC_CHANGED_SINCE_INCLUSIVE = True

# --- webhooks (source-apis.md 3.6) --------------------------------------------------------------
#: Changes gathered into one POST after the first one (Intuit aggregates; can lag minutes).
WEBHOOK_DEFAULT_DELAY_MS = 500
#: A customer made inactive (QuickBooks' "delete" of a name-list entity) is reported with this
#: operation. Intuit lists Delete among Customer webhook operations although customers cannot be
#: hard-deleted, so "Delete" it is (verify); the record still exists, inactive (GET and CDC show it).
INACTIVATED_OPERATION = "Delete"
#: Answer deadline (Intuit guidance: 3 s; verify) and retries (Intuit retries with increasing
#: delays; schedule: verify). The sandbox tries WEBHOOK_ATTEMPTS times in all, pausing
#: WEBHOOK_BACKOFF_S, then twice as long each time (runtime-settable: PATCH /_admin/deliveries).
WEBHOOK_TIMEOUT_S = 3.0
WEBHOOK_ATTEMPTS = 4
WEBHOOK_BACKOFF_S = 1.0
#: Both payload formats go out as `application/json` with the same `intuit-signature` header (verify
#: for CloudEvents). Any 2xx counts as delivered.
