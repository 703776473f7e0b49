"""``serve --transcription-*`` reach the settings, and the Hub offers transcription only when it can."""

from __future__ import annotations

import argparse
import json

import pytest

from openapiopenai.asr import INSTALL_HINT
from openapiopenai.config import ServerSettings
from openapiopenai.exceptions import install_extra
from openapiopenai.protocol.session import Session
from openapiopenai.server.app import Hub
from openapiopenai.server.cli import add_parser, settings_from_args
from tests.synth import LoudnessModel


def parse(*argv: str) -> ServerSettings:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return settings_from_args(parser.parse_args(["serve", *argv]))


def test_transcription_flags_reach_the_settings() -> None:
    settings = parse(
        "--transcription-model", "/models/small.en", "--transcription-workers", "2",
        "--transcription-cpu-threads", "3", "--transcription-queue", "7", "--transcription-beam-size", "5",
    )  # fmt: skip
    assert settings.transcription_model == "/models/small.en"
    assert (settings.transcription_workers, settings.transcription_cpu_threads) == (2, 3)
    assert (settings.transcription_queue, settings.transcription_beam_size) == (7, 5)
    assert parse() == ServerSettings.from_env()


def test_hub_offers_transcription_when_the_engine_is_installed() -> None:
    pytest.importorskip("faster_whisper")
    hub = Hub(ServerSettings(transcription_queue=5), LoudnessModel())
    assert hub.transcription is not None and hub.transcription.queue_size == 5
    assert hub.features.transcription


def test_without_the_engine_a_session_asking_for_transcription_is_told_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import openapiopenai.asr

    def missing(model: str = "tiny.en") -> str:
        return f"faster-whisper is not installed; {INSTALL_HINT}"

    monkeypatch.setattr(openapiopenai.asr, "unavailable_reason", missing)
    hub = Hub(ServerSettings(), LoudnessModel())
    assert hub.transcription is None and not hub.features.transcription
    session = Session(LoudnessModel(), features=hub.features)
    session.start()
    session.events_to_send()
    update = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
    session.receive_text(json.dumps({"type": "session.update", "session": update}))
    (error,) = [json.loads(e) for e in session.events_to_send()]
    assert error["type"] == "error" and error["error"]["code"] == "feature_unavailable"
    assert install_extra("transcribe") in error["error"]["message"]
