"""``serve`` flags reach the settings, and every per-session limit reaches the sessions."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from openapiopenai.cli import main
from openapiopenai.config import ServerSettings, field_docs
from openapiopenai.protocol.session import SessionLimits
from openapiopenai.server.app import Hub
from openapiopenai.server.cli import Ready, add_parser, settings_from_args, startup_line
from tests.synth import LoudnessModel


def parse(*argv: str) -> ServerSettings:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return settings_from_args(parser.parse_args(["serve", *argv]))


def test_defaults_come_from_one_place() -> None:
    assert parse() == ServerSettings.from_env()
    limits = SessionLimits()
    for field in fields(SessionLimits):
        assert getattr(ServerSettings(), field.name) == getattr(limits, field.name)


def test_every_session_limit_is_a_serve_setting_that_reaches_the_sessions() -> None:
    settings = parse(
        "--max-buffer-bytes", "1000", "--max-message-bytes", "2000", "--max-leading-silence-ms", "3000",
        "--workers", "3",
    )  # fmt: skip
    assert (settings.max_buffer_bytes, settings.max_message_bytes) == (1000, 2000)
    assert (settings.max_leading_silence_ms, settings.workers) == (3000, 3)
    hub = Hub(settings, LoudnessModel())
    for field in fields(SessionLimits):
        assert getattr(hub.limits, field.name) == getattr(settings, field.name), field.name


def test_turn_end_flags_reach_the_semantic_vad_worker() -> None:
    settings = parse("--turn-end-threads", "2", "--turn-end-queue", "5")
    hub = Hub(settings, LoudnessModel())
    assert hub.turn_end is not None and hub.features.semantic_vad
    assert (hub.turn_end.threads, hub.turn_end.max_queue) == (2, 5)


def other_value(name: str, value: object, choices: tuple[str, ...]) -> tuple[str | None, object]:
    """A value different from the default, as a flag argument (None: a switch) and as parsed."""
    if isinstance(value, bool):
        return None, not value
    if isinstance(value, int):
        return str(value + 7), value + 7
    if isinstance(value, float):
        return str(value + 1.5), value + 1.5
    if choices:
        other = next(c for c in choices if c != value)
        return other, other
    return f"/tmp/{name}", f"/tmp/{name}"


def test_every_setting_is_a_serve_flag_that_reaches_the_settings() -> None:
    subparsers = argparse.ArgumentParser().add_subparsers()
    add_parser(subparsers)
    serve = subparsers.choices["serve"]
    by_dest = {action.dest: action for action in serve._actions}
    defaults = ServerSettings()
    for field in fields(ServerSettings):
        action = by_dest[field.name]
        argument, expected = other_value(field.name, getattr(defaults, field.name), action.choices or ())
        argv = [action.option_strings[0]] + ([] if argument is None else [argument])
        assert getattr(parse(*argv), field.name) == expected, argv


def test_help_gives_each_setting_its_doc_default_and_choices_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    docs = field_docs(ServerSettings)
    for field in fields(ServerSettings):
        assert docs[field.name], f"{field.name} has no #: doc in config.py"
        assert " ".join(docs[field.name].replace("``", "'").split()) in text, field.name
    switches = sum(1 for f in fields(ServerSettings) if isinstance(f.default, bool))
    assert text.count("(default: ") == len(fields(ServerSettings)) - switches
    assert "{auto,silero,webrtc,energy}" in text and "{critical,error,warning,info,debug}" in text
    assert "set per session by the client (session.update), as with OpenAI" in text
    assert text.split("examples:")[-1].strip().startswith("openapiopenai serve")  # examples come last


def test_an_unknown_backend_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--backend", "nope")
    assert "invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "tls", "line"),
    [
        (
            "127.0.0.1",
            False,
            "serving ws://127.0.0.1:8000/v1/realtime (backend silero, auth off, 1 worker); "
            "live page: http://127.0.0.1:8000/",
        ),
        (
            "0.0.0.0",
            False,
            "serving ws://0.0.0.0:8000/v1/realtime (backend silero, auth off, 1 worker); "
            "live page: http://127.0.0.1:8000/",
        ),
        (
            "::",
            True,
            "serving wss://[::]:8000/v1/realtime (backend silero, auth off, 1 worker); "
            "live page: https://[::1]:8000/",
        ),
    ],
)
def test_the_startup_line_gives_the_socket_and_the_live_page(host: str, tls: bool, line: str) -> None:
    settings = ServerSettings(host=host, ssl_certfile="cert.pem" if tls else None)
    assert startup_line(settings, Ready(backend="silero", port=8000)) == line
