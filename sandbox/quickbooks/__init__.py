"""A local QuickBooks Online Accounting API v3 (source-apis.md section 3) for the demo and the tests.

Admin routes (exempt from faults) besides `/_admin/faults` and `/_admin/stats`:
`POST /_admin/oauth/expire` (invalidate every access token now), `POST /_admin/oauth/code`
(mint an authorization code), `GET|PATCH /_admin/oauth` (token lifetimes),
`GET|PATCH /_admin/config` (`batch_rate_limit`), `PATCH /_admin/customers/{id}` (edit as a
person in the UI would, no SyncToken), `POST /_admin/invoices/{id}/payment` (`{"amount": n}`),
`GET|PUT|DELETE /_admin/webhooks` (the developer portal's webhook endpoint: `{"url", "format":
"legacy"|"cloudevents", "delay_ms", "entities"}`), `GET|PATCH|DELETE /_admin/deliveries`
(webhook delivery counts, recent outcomes and the retry policy).
"""

from sandbox.quickbooks._app import QuickBooksSimConfig, create_quickbooks_simulator
from sandbox.quickbooks._oauth import TokenSettings

__all__ = ["QuickBooksSimConfig", "TokenSettings", "create_quickbooks_simulator"]
