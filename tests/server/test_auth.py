"""Who may connect, and in which dialect: the handshake rules, without a server."""

from __future__ import annotations

import pytest

from openapiopenai.server.auth import choose_subprotocol, is_authorized, presented_keys, wants_beta


def test_no_configured_key_lets_everyone_in() -> None:
    assert is_authorized(None, {}, [])


@pytest.mark.parametrize(
    ("headers", "subprotocols", "allowed"),
    [
        ({"authorization": "Bearer s3cret"}, [], True),
        ({"authorization": "bearer   s3cret  "}, [], True),
        ({}, ["realtime", "openai-insecure-api-key.s3cret"], True),
        ({"authorization": "Bearer wrong"}, ["openai-insecure-api-key.s3cret"], True),
        ({"authorization": "Bearer wrong"}, [], False),
        ({"authorization": "Basic s3cret"}, [], False),
        ({"authorization": "Bearer"}, [], False),
        ({}, ["realtime"], False),
        ({}, ["openai-insecure-api-key."], False),
        ({}, [], False),
    ],
)
def test_the_key_comes_as_a_bearer_header_or_a_browser_subprotocol(
    headers: dict[str, str], subprotocols: list[str], allowed: bool
) -> None:
    assert is_authorized("s3cret", headers, subprotocols) is allowed


def test_non_ascii_keys_are_compared_without_crashing() -> None:
    assert not is_authorized("s3cret", {"authorization": "Bearer sécret"}, [])
    assert presented_keys({}, ["openai-insecure-api-key.k1", "openai-beta.realtime-v1"]) == ["k1"]


@pytest.mark.parametrize(
    ("headers", "subprotocols", "beta"),
    [
        ({"openai-beta": "realtime=v1"}, [], True),
        ({"openai-beta": "assistants=v2, realtime=v1"}, [], True),
        ({}, ["realtime", "openai-beta.realtime-v1"], True),
        ({"openai-beta": "realtime=v2"}, [], False),
        ({}, ["realtime"], False),
    ],
)
def test_the_beta_dialect_is_asked_for_by_header_or_subprotocol(
    headers: dict[str, str], subprotocols: list[str], beta: bool
) -> None:
    assert wants_beta(headers, subprotocols) is beta


def test_the_realtime_subprotocol_is_selected_when_offered() -> None:
    assert choose_subprotocol(["openai-insecure-api-key.x", "realtime"]) == "realtime"
    assert choose_subprotocol([]) is None
