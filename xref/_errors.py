"""The xref error family (style.md section 7)."""

from __future__ import annotations


class XrefError(Exception):
    """Base of every error the identity index raises."""


class InvalidCursor(XrefError, ValueError):
    """A pagination cursor this index did not issue (or from an incompatible version)."""
