"""Which fields a query selects below the current one, so a root resolver can load them in one batch."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from resolvers.types import Info


def _fields(selections: Iterable[Selection]) -> list[SelectedField]:
    """The fields of a selection set, with fragments (named and inline) opened up."""
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            found.append(selection)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            found.extend(_fields(selection.selections))
    return found


def selected_names(info: Info, path: Sequence[str] = ()) -> frozenset[str]:
    """GraphQL names of the fields selected at `path` below the field being resolved.

    `selected_names(info, ("edges", "node"))` in `customers` gives the Customer fields
    asked for, from every alias and fragment that reaches them.
    """
    # `info.selected_fields` is the field being resolved itself (one entry per place the
    # document asks for this response key; they are merged): its children are the level below.
    level = _fields(s for field in _fields(info.selected_fields) for s in field.selections)
    for name in path:
        level = _fields(s for field in level if field.name == name for s in field.selections)
    return frozenset(field.name for field in level)
