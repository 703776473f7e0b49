"""Samples built from the official SDK's own types: every field the SDK declares, filled in.

Walking the SDK's pydantic fields (not a table we typed) means a field we forgot, or typed
differently, shows up as a failure in the compatibility tests.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import pydantic


def union_members(alias: Any) -> tuple[Any, ...]:
    """The classes of an SDK event union (``Annotated[Union[...], PropertyInfo]``)."""
    if typing.get_origin(alias) is typing.Annotated:
        alias = typing.get_args(alias)[0]
    return typing.get_args(alias)


def sample(annotation: Any, *, full: bool, depth: int = 0) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return sample(args[0], full=full, depth=depth)
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        return sample(members[0], full=full, depth=depth)
    if origin in (list, typing.List):  # noqa: UP006
        return [sample(args[0], full=full, depth=depth + 1)] if depth < 4 else []
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {"key": "value"} if args and args[1] is str else {}
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return model_sample(annotation, full=full, depth=depth + 1)
    simple = {str: "x", int: 7, float: 1.5, bool: True, object: {}}
    if annotation in simple:
        return simple[annotation]
    raise TypeError(f"no sample for {annotation!r}")


def model_sample(cls: type[pydantic.BaseModel], *, full: bool, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if info.is_required() or (full and depth < 5):
            out[info.alias or name] = sample(info.annotation, full=full, depth=depth)
    return out
