"""The detector's second opinion (``confirm``): a turn starts only when both streams agree.

Scripted probabilities: the rule itself, frame by frame. Where it comes from (Silero on the
un-denoised input while noise reduction is on) is tested with real audio in
tests/protocol/test_session_denoise.py.
"""

from __future__ import annotations

from openapiopenai.turns import SpeechStarted, SpeechStopped, TurnDetectionConfig, TurnDetector

RATE = 24_000
FRAME = 768  # 32 ms at 24 kHz


def detector(**config: object) -> TurnDetector:
    settings: dict[str, object] = {
        "min_speech_duration_ms": 0,
        "warmup_ms": 0,
        "prefix_padding_ms": 0,
        **config,
    }
    return TurnDetector(TurnDetectionConfig(**settings), sample_rate=RATE, frame_length=FRAME)  # type: ignore[arg-type]


def run(det: TurnDetector, probs: list[float], confirms: list[float | None]) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = []
    for i, (p, c) in enumerate(zip(probs, confirms, strict=True)):
        out.extend((i, e) for e in det.push(p, None, c))
    return out


def test_without_a_second_opinion_the_rule_is_unchanged() -> None:
    probs = [0.01] * 3 + [0.9] * 4 + [0.01] * 30
    plain = detector()
    expected = [(i, e) for i, p in enumerate(probs) for e in plain.push(p)]
    assert run(detector(), probs, [None] * len(probs)) == expected
    assert expected[0] == (3, SpeechStarted(onset=3 * FRAME, audio_start=3 * FRAME))


def test_a_run_the_second_opinion_never_backs_is_not_a_turn() -> None:
    probs = [0.01] * 3 + [0.95] * 20 + [0.01] * 30
    # the second opinion stays just under the exit threshold (0.35 for threshold 0.5)
    assert run(detector(), probs, [0.34] * len(probs)) == []


def test_the_turn_starts_on_the_frame_the_second_opinion_agrees_with_its_onset_kept() -> None:
    probs = [0.01] * 3 + [0.9] * 10 + [0.01] * 30
    confirms: list[float | None] = [0.0] * 6 + [0.35] + [0.0] * 36  # the exit threshold, inclusive
    events = run(detector(), probs, confirms)
    assert events[0] == (6, SpeechStarted(onset=3 * FRAME, audio_start=3 * FRAME))
    assert isinstance(events[1][1], SpeechStopped)


def test_agreement_must_come_within_the_same_run() -> None:
    # the second opinion agreed during an earlier run that ended; the next run starts unconfirmed
    probs = [0.9] * 2 + [0.01] * 2 + [0.9] * 5 + [0.01] * 20
    confirms: list[float | None] = [0.9] * 2 + [0.0] * 27
    det = detector(min_speech_duration_ms=100)  # 4 frames: the first run is too short
    assert run(det, probs, confirms) == []


def test_a_turn_under_way_continues_while_either_opinion_hears_speech() -> None:
    # the first opinion falls silent at frame 20; the second still hears speech until frame 30
    probs = [0.9] * 20 + [0.01] * 40
    confirms: list[float | None] = [0.9] * 30 + [0.0] * 30
    events = run(detector(), probs, confirms)
    started, stopped = events[0][1], events[1][1]
    assert started == SpeechStarted(onset=0, audio_start=0)
    assert isinstance(stopped, SpeechStopped) and stopped.speech_end == 30 * FRAME


def test_the_turn_ends_when_both_opinions_are_silent() -> None:
    probs = [0.9] * 20 + [0.01] * 30
    confirms: list[float | None] = [0.9] + [0.0] * 49
    events = run(detector(), probs, confirms)
    stopped = events[1][1]
    assert isinstance(stopped, SpeechStopped) and stopped.speech_end == 20 * FRAME


def test_the_agreement_threshold_follows_the_configured_exit_threshold() -> None:
    probs = [0.9] * 5 + [0.01] * 30
    assert run(detector(threshold=0.7, exit_threshold=0.6), probs, [0.55] * 35) == []
    assert run(detector(threshold=0.7, exit_threshold=0.5), probs, [0.55] * 35)[0][0] == 0
