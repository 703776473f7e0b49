"""The harness drives the library's Detector (the Session itself), and chunking never matters."""

from __future__ import annotations

import numpy as np
import pytest

from openapiopenai.audio import formats
from openapiopenai.evaluation.runner import (
    ReplayModel,
    Scored,
    before_config,
    iterator_turns,
    run_detector,
    run_session,
    score_audio,
    wire_bytes,
)
from openapiopenai.offline import Detector, segments_from_turns
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import load_model
from tests.audio._data import TEN_VAD, read_audio

RATE = 24_000
FRAME = 768  # a Silero frame (512 at 16 kHz) on the 24 kHz input timeline


def rule(**settings: object) -> TurnDetectionConfig:
    """The default rule, starting a turn on the first speech frame (no minimum speech or warm-up)."""
    return TurnDetectionConfig(**{"min_speech_duration_ms": 0, "warmup_ms": 0, **settings})  # type: ignore[arg-type]


def scripted(probabilities: list[float]) -> Scored:
    p = np.array(probabilities, dtype=np.float32)
    return Scored(p, np.full(len(p), -30.0), FRAME, RATE, len(p) * FRAME)


def test_frame_decisions_are_the_detectors_own_threshold_decisions() -> None:
    run = run_detector(
        scripted([0.0, 0.6, 0.4, 0.6] + [0.0] * 20),
        rule(silence_duration_ms=96, exit_threshold=0.5),
    )
    assert run.decisions[:5].tolist() == [False, True, False, True, False]
    (turn,) = run.turns
    assert turn.onset == pytest.approx(0.032)
    assert turn.end == pytest.approx(0.128)
    assert turn.known_at == pytest.approx(0.128 + 0.096)


def test_frame_decision_cells_follow_the_frames_under_each_cell_centre() -> None:
    run = run_detector(scripted([0.0, 0.9, 0.0, 0.0]), TurnDetectionConfig(silence_duration_ms=32))
    assert run.speech == [(pytest.approx(0.032), pytest.approx(0.064))]
    assert run.cells(10).tolist() == [False] * 3 + [True] * 3 + [False] * 4


def test_the_frame_decision_starts_at_the_onset_the_detector_dated_back() -> None:
    run = run_detector(scripted([0.0, 0.0, 0.4, 0.9, 0.0] + [0.0] * 20), rule())
    assert run.decisions[:5].tolist() == [False, False, False, True, False]
    assert run.turns[0].onset == pytest.approx(0.064)  # dated back over the 0.4 frame
    assert run.speech == [
        (pytest.approx(0.064), pytest.approx(0.096)),
        (pytest.approx(0.096), pytest.approx(0.128)),
    ]
    assert run.cells(14).tolist() == [False] * 6 + [True] * 7 + [False]


def test_frame_decisions_follow_the_detectors_default_hysteresis() -> None:
    config = TurnDetectionConfig(silence_duration_ms=96)
    run = run_detector(scripted([0.0, 0.6, 0.4, 0.3, 0.4] + [0.0] * 10), config)
    assert run.decisions[:5].tolist() == [False, True, True, False, False]


def test_a_turn_open_at_the_end_of_the_stream_is_closed_at_its_last_speech_frame() -> None:
    (turn,) = run_detector(scripted([0.0, 0.9, 0.9]), rule()).turns
    assert (turn.onset, turn.end, turn.known_at) == pytest.approx((0.032, 0.096, 0.096))


def test_vaditerator_turns_use_the_silence_window_and_no_padding() -> None:
    (turn,) = iterator_turns(
        scripted([0.0, 0.9, 0.9] + [0.0] * 20), TurnDetectionConfig(silence_duration_ms=96)
    )
    assert turn.onset == pytest.approx(0.032)
    assert turn.end == pytest.approx(0.096)
    # the pending end is marked at the end of the first silent frame (128 ms); 96 ms later: 224 ms
    assert turn.known_at == pytest.approx(0.224)


@pytest.mark.parametrize("fmt", [formats.PCM16_24K, formats.PCMU, formats.PCMA], ids=lambda f: f.ga_type)
def test_scores_do_not_depend_on_how_the_audio_is_chunked(fmt: formats.AudioFormat) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(16_000 * 2) / 16_000
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.7) + 0.01 * rng.standard_normal(len(t))).astype(
        np.float32
    )
    audio = wire_bytes(samples, 16_000, fmt)
    for name in ("silero", "energy"):
        model = load_model(name)
        a = score_audio(model, audio, fmt, chunk_ms=20)
        b = score_audio(model, audio, fmt, chunk_ms=100)
        c = score_audio(model, audio, fmt, chunk_ms=7)
        assert a.probabilities.tolist() == b.probabilities.tolist() == c.probabilities.tolist()
        assert a.total_samples == len(audio) // fmt.bytes_per_sample
        assert a.sample_rate == fmt.sample_rate


def test_telephony_audio_is_g711_at_8_khz_and_decodes_back_close_to_the_original() -> None:
    t = np.arange(8000) / 8000
    samples = (0.25 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    for fmt in (formats.PCMU, formats.PCMA):
        audio = wire_bytes(samples, 8000, fmt)
        assert len(audio) == 8000
        assert np.max(np.abs(formats.decode(fmt, audio) - samples)) < 0.01
    assert len(wire_bytes(samples, 8000, formats.PCM16_24K)) == 2 * 24_000


def test_ours_before_is_the_same_settings_without_hysteresis_or_onset_dating() -> None:
    before = before_config(TurnDetectionConfig(threshold=0.6, silence_duration_ms=300))
    assert before.effective_exit_threshold == 0.6
    assert before.onset_lookback_ms == 0
    assert before.min_speech_duration_ms == before.warmup_ms == 0
    assert (before.threshold, before.silence_duration_ms) == (0.6, 300)


def _speech_file() -> tuple[bytes, formats.AudioFormat]:
    samples, rate = read_audio(TEN_VAD, "testset-audio-01.wav")
    return wire_bytes(samples, rate, formats.PCM16_24K), formats.PCM16_24K


def test_the_runner_reports_the_library_detectors_own_turns() -> None:
    audio, fmt = _speech_file()
    run = run_session(load_model("silero"), audio, fmt, TurnDetectionConfig())
    detector = Detector()
    detector.feed(audio)
    detector.flush()
    expected = segments_from_turns(detector.session.turn_log, fmt.sample_rate)
    assert len(run.turns) == len(expected) >= 1
    for turn, segment in zip(run.turns, expected, strict=True):
        assert (turn.onset, turn.end) == (segment.start_s, segment.end_s)
    # and the pure detector over the recorded probabilities makes the very same turns
    assert run_detector(run.scored, TurnDetectionConfig()).turns == run.turns


def test_a_replayed_session_gives_the_turns_of_a_freshly_scored_one() -> None:
    audio, fmt = _speech_file()
    silero = load_model("silero")
    first = run_session(silero, audio, fmt, TurnDetectionConfig())
    before = before_config(TurnDetectionConfig())
    replayed = run_session(ReplayModel(first.model), audio, fmt, before)
    scored = run_session(silero, audio, fmt, before)
    assert replayed.turns == scored.turns
    assert replayed.scored.probabilities.tolist() == first.scored.probabilities.tolist()


def test_g711_is_scored_by_silero_8_khz_head_unless_the_session_is_offered_16_khz_only() -> None:
    samples, rate = read_audio(TEN_VAD, "testset-audio-01.wav")
    audio = wire_bytes(samples, rate, formats.PCMU)
    silero = load_model("silero")
    native = run_session(silero, audio, formats.PCMU, TurnDetectionConfig())
    assert native.model.sample_rate == 8000
    assert native.scored.frame_length == 256  # 32 ms of 8 kHz input
    upsampled = run_session(silero, audio, formats.PCMU, TurnDetectionConfig(), rates=(16_000,))
    assert upsampled.model.sample_rate == 16_000
    assert upsampled.scored.frame_length == 256  # 512 samples at 16 kHz, still 32 ms of input
