"""Stand-ins for the systems' web UIs: the record links c360 hands out open something in the demo."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import HTMLResponse

_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2rem;color:#222}"
    "table{border-collapse:collapse}th,td{border-bottom:1px solid #ddd;padding:.3rem .8rem;text-align:left;"
    "vertical-align:top}th{color:#555;font-weight:600}code{font-size:12px}"
)


def record_page(system: str, title: str, record: Mapping[str, Any]) -> HTMLResponse:
    """One record as a plain table, the way a person would look it up in the system."""
    rows = "".join(
        f"<tr><th>{html.escape(str(key))}</th><td><code>{html.escape(_show(value))}</code></td></tr>"
        for key, value in record.items()
    )
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)} · {html.escape(system)} sandbox"
        f"</title><style>{_STYLE}</style></head><body><p>{html.escape(system)} sandbox</p>"
        f"<h1>{html.escape(title)}</h1><table>{rows}</table></body></html>"
    )


def not_found_page(system: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><title>{html.escape(system)} sandbox</title><h1>Not found</h1>", status_code=404)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()
