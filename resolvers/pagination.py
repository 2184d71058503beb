"""Opaque cursors (clients must not build them, so they are base64 of a tagged value) and Relay's PageInfo."""

from __future__ import annotations

import base64
import binascii

import strawberry

from resolvers.errors import bad_input


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def encode_cursor(kind: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_input("`after` is not a cursor returned by this API", "after") from None
    tag, _, value = text.partition(":")
    if tag != kind or not value:
        raise bad_input("`after` is not a cursor returned by this query", "after")
    return value
