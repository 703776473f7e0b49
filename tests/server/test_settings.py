"""``serve`` flags reach the settings, and every per-session limit reaches the sessions."""

from __future__ import annotations

import argparse
from dataclasses import fields

from openapiopenai.config import ServerSettings
from openapiopenai.protocol.session import SessionLimits
from openapiopenai.server.app import Hub
from openapiopenai.server.cli import add_parser, settings_from_args
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
