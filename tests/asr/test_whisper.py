"""The bundled tiny.en through the Transcriber interface, on the repository's espeak-ng fixtures
(real LibriSpeech speech: tests/evaluation/test_transcription_real_speech.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soxr

from openapiopenai.asr import (
    DEFAULT_MODEL,
    SAMPLE_RATE,
    TextPiece,
    TranscriptionOptions,
    WhisperTranscriber,
    bundled_model_path,
    resolve_model,
    unavailable_reason,
)
from openapiopenai.audio.analysis import ANALYSIS_RATE, prepare
from openapiopenai.audio.formats import PCM16_24K, PCMU, AudioFormat, encode
from openapiopenai.exceptions import ModelLoadError
from tests.audio._data import SPEECH_THEN_SILENCE, fixture_at

pytest.importorskip("faster_whisper")


@pytest.fixture(scope="module")
def transcriber() -> WhisperTranscriber:
    return WhisperTranscriber()


def timer() -> np.ndarray:
    """espeak-ng: "And set a timer for ten minutes." then silence, at 16 kHz."""
    return fixture_at(SPEECH_THEN_SILENCE, SAMPLE_RATE)


def words(text: str) -> list[str]:
    return "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()


def test_the_default_model_is_the_bundled_copy_found_without_downloading() -> None:
    path = bundled_model_path()
    assert path is not None and (path / "model.bin").is_file() and (path / "tokenizer.json").is_file()
    assert resolve_model(DEFAULT_MODEL) == str(path)
    assert unavailable_reason() is None


def test_a_local_directory_is_a_model_and_other_names_go_to_faster_whisper(tmp_path: Path) -> None:
    assert resolve_model(str(bundled_model_path())) == str(bundled_model_path())
    assert resolve_model("base.en") == "base.en"
    with pytest.raises(ModelLoadError, match=r"model\.bin"):
        resolve_model(str(tmp_path))


def test_transcriber_yields_the_spoken_words(transcriber: WhisperTranscriber) -> None:
    pieces = list(transcriber.transcribe(timer(), TranscriptionOptions()))
    assert pieces and all(isinstance(p, TextPiece) and p.text for p in pieces)
    text = "".join(p.text for p in pieces)
    assert text == text.lstrip()  # no leading space, as the API's transcripts
    assert {"timer", "minutes"} <= set(words(text))
    assert all(p.logprobs is None for p in pieces)


def test_logprobs_are_per_word_and_cover_the_text(transcriber: WhisperTranscriber) -> None:
    pieces = list(transcriber.transcribe(timer(), TranscriptionOptions(logprobs=True)))
    entries = [lp for p in pieces for lp in (p.logprobs or [])]
    assert entries
    assert "".join(e["token"] for e in entries) == "".join(p.text for p in pieces)
    for entry in entries:
        assert entry["logprob"] <= 0 and math.isfinite(entry["logprob"])
        assert bytes(entry["bytes"]).decode() == entry["token"]
    assert sum(1 for e in entries if e["logprob"] > math.log(0.5)) > len(entries) / 2


def test_prompt_conditions_the_decoder(transcriber: WhisperTranscriber) -> None:
    """The prompt reaches the model: a prompt in capitals makes it write in capitals."""
    plain = "".join(p.text for p in transcriber.transcribe(timer(), TranscriptionOptions()))
    shouting = "".join(
        p.text
        for p in transcriber.transcribe(
            timer(), TranscriptionOptions(prompt="AND SET A TIMER. ALL IN CAPITALS.")
        )
    )
    assert shouting != plain
    assert "TIMER" in shouting.upper()


def test_silence_gives_no_text(transcriber: WhisperTranscriber) -> None:
    pieces = list(transcriber.transcribe(np.zeros(SAMPLE_RATE, np.float32), TranscriptionOptions()))
    assert "".join(p.text for p in pieces).strip() == ""


@pytest.mark.parametrize("fmt", [PCM16_24K, PCMU])
def test_wire_audio_is_prepared_at_16_khz_and_still_understood(
    fmt: AudioFormat, transcriber: WhisperTranscriber
) -> None:
    samples = timer()
    wire = encode(fmt, soxr.resample(samples, SAMPLE_RATE, fmt.sample_rate))
    prepared = prepare(wire, fmt)
    assert prepared.dtype == np.float32
    assert abs(len(prepared) - len(samples)) <= ANALYSIS_RATE // 100
    text = "".join(p.text for p in transcriber.transcribe(prepared, TranscriptionOptions()))
    assert "timer" in words(text)


def test_context_is_the_end_of_what_was_said_in_whole_words() -> None:
    from openapiopenai.asr import recent_context

    assert recent_context([]) is None
    assert recent_context(["", "  "]) is None
    assert recent_context(["Hello there.", " General Kenobi."]) == "Hello there. General Kenobi."
    context = recent_context(["alpha beta gamma delta"], limit=12)
    assert context == "gamma delta"


def test_context_conditions_the_decoder_like_a_prompt(transcriber: WhisperTranscriber) -> None:
    samples = timer()
    plain = "".join(p.text for p in transcriber.transcribe(samples, TranscriptionOptions()))
    shouted = TranscriptionOptions(context="PLEASE TURN ON THE KITCHEN LIGHTS. ALL IN CAPITALS.")
    continued = "".join(p.text for p in transcriber.transcribe(samples, shouted))
    assert continued != plain and "timer" in words(continued)
