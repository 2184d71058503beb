"""A local Microsoft Graph v1.0 (SharePoint lists) simulator that speaks the real wire format."""

from __future__ import annotations

from sandbox.sharepoint import fidelity
from sandbox.sharepoint._app import create_sharepoint_simulator

__all__ = ["create_sharepoint_simulator", "fidelity"]

