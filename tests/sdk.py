"""The official SDK's own types as strict validators of what our server sends.

The SDK's ``recv()`` does not validate (it builds models unchecked), so compatibility tests
re-wrap its event unions with a real discriminator and validate strictly.
"""

from __future__ import annotations

import typing
from functools import cache
from typing import Annotated, Any

import pydantic


def _strict(alias: Any) -> pydantic.TypeAdapter[Any]:
    union = typing.get_args(alias)[0]
    return pydantic.TypeAdapter(Annotated[union, pydantic.Field(discriminator="type")])


@cache
def ga_server() -> pydantic.TypeAdapter[Any]:
    from openai.types.realtime import RealtimeServerEvent

    return _strict(RealtimeServerEvent)


@cache
def beta_server() -> pydantic.TypeAdapter[Any]:
    from openai.types.beta.realtime import RealtimeServerEvent

    return _strict(RealtimeServerEvent)


def validate_ga(raw: str | bytes) -> Any:
    return ga_server().validate_json(raw, strict=True)


def validate_beta(raw: str | bytes) -> Any:
    return beta_server().validate_json(raw, strict=True)
