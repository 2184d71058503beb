"""`schema.graphql` is the public contract: it must match the code, so an API change is a visible diff."""

from __future__ import annotations

from pathlib import Path

from resolvers import schema

ROOT = Path(__file__).resolve().parents[1]


def test_schema_file_matches_the_code() -> None:
    on_disk = (ROOT / "schema.graphql").read_text()
    assert on_disk == schema.as_str() + "\n", "schema.graphql is stale: run `c360 export-schema`"
