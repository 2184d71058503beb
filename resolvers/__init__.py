"""GraphQL types, queries and DataLoaders: turn one query into batched, parallel source calls."""

from resolvers._services import Services
from resolvers.context import Context, build_context
from resolvers.schema import schema

__all__ = ["Context", "Services", "build_context", "schema"]
