"""Open the three simulators over one data dir (used by `c360 sandbox`, `c360 demo`, tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sandbox._credentials import SandboxCredentials
from sandbox._faults import FaultSettings
from sandbox._simulator import Simulator
from sandbox._store import Store

SYSTEMS = ("sharepoint", "teamwork", "quickbooks")


def sandbox_dir(data_dir: Path) -> Path:
    return data_dir / "sandbox"


def store_path(data_dir: Path, system: str) -> Path:
    return sandbox_dir(data_dir) / f"{system}.sqlite3"


def credentials_for(data_dir: Path) -> SandboxCredentials:
    return SandboxCredentials.load_or_create(sandbox_dir(data_dir) / "credentials.json")


def has_data(data_dir: Path) -> bool:
    """True once the generator (or earlier use) has put customers into every system."""
    for system in SYSTEMS:
        path = store_path(data_dir, system)
        if not path.exists():
            return False
        store = Store(path)
        try:
            if store.count("customers" if system != "teamwork" else "companies") == 0:
                return False
        finally:
            store.close()
    return True


def open_simulators(
    data_dir: Path | None,
    credentials: SandboxCredentials,
    faults: Mapping[str, FaultSettings] | None = None,
) -> dict[str, Simulator]:
    """The three simulators; `data_dir=None` gives empty in-memory systems."""
    from sandbox.quickbooks import create_quickbooks_simulator
    from sandbox.sharepoint import create_sharepoint_simulator
    from sandbox.teamwork import create_teamwork_simulator

    factories = {
        "sharepoint": create_sharepoint_simulator,
        "teamwork": create_teamwork_simulator,
        "quickbooks": create_quickbooks_simulator,
    }
    faults = faults or {}
    return {
        system: factory(Store(store_path(data_dir, system) if data_dir else None), credentials, faults.get(system))
        for system, factory in factories.items()
    }
