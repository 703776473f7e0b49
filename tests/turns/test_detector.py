"""The server_vad rule on scripted probabilities: every rule, exact sample positions."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openapiopenai.exceptions import ConfigError
from openapiopenai.turns import (
    IdleTimeout,
    SpeechStarted,
    SpeechStopped,
    TurnDetectionConfig,
    TurnDetector,
    samples_to_ms,
)
from openapiopenai.turns.timeline import ms_to_samples

RATE = 24_000
FRAME = 768  # 32 ms at 24 kHz: one Silero frame at 16 kHz
MS = RATE // 1000


@dataclass
class Buffer:
    """The start of the uncommitted audio, as a Session's ``AudioBuffer`` owns it."""

    start: int = 0


def detector(buffer: Buffer | None = None, **config: object) -> TurnDetector:
    """A detector that starts a turn on the first speech frame unless told otherwise: the rules
    below are tested one by one; the default minimum speech and warm-up have their own tests."""
    settings: dict[str, object] = {"min_speech_duration_ms": 0, "warmup_ms": 0, **config}
    return TurnDetector(
        TurnDetectionConfig(**settings),  # type: ignore[arg-type]
        sample_rate=RATE,
        frame_length=FRAME,
        buffer=buffer,
    )


def run(det: TurnDetector, probs: list[float]) -> list[tuple[int, object]]:
    """(frame index, event) pairs."""
    out: list[tuple[int, object]] = []
    for i, p in enumerate(probs):
        out.extend((i, e) for e in det.push(p))
    return out


def test_speech_started_on_first_frame_above_threshold() -> None:
    events = run(detector(prefix_padding_ms=0), [0.01] * 10 + [0.9] + [0.9] * 5)
    assert events == [(10, SpeechStarted(onset=10 * FRAME, audio_start=10 * FRAME))]


def test_threshold_is_inclusive_and_below_is_silence() -> None:
    assert run(detector(threshold=0.6), [0.59] * 5) == []
    assert run(detector(threshold=0.6), [0.6])[0][1] == SpeechStarted(onset=0, audio_start=0)


def test_speech_started_includes_prefix_padding() -> None:
    ((_, started),) = run(detector(), [0.0] * 20 + [0.9])
    assert isinstance(started, SpeechStarted)
    assert started.onset == 20 * FRAME
    assert started.audio_start == 20 * FRAME - 300 * MS
    assert samples_to_ms(started.audio_start, RATE) == 20 * 32 - 300


def test_prefix_padding_never_reaches_before_buffer_start() -> None:
    ((_, started),) = run(detector(), [0.0] * 3 + [0.9])
    assert isinstance(started, SpeechStarted)
    assert started.audio_start == 0  # onset 96 ms - 300 ms, clamped at the session start


def test_prefix_padding_clamped_at_previous_turn_end() -> None:
    det = detector(silence_duration_ms=100)
    events = [e for _, e in run(det, [0.9] * 5 + [0.0] * 4 + [0.9])]
    stopped, started = events[1], events[2]
    assert isinstance(stopped, SpeechStopped) and isinstance(started, SpeechStarted)
    assert started.audio_start == stopped.audio_end  # the earlier audio was committed


def test_speech_stopped_after_silence_duration_includes_silence() -> None:
    det = detector(silence_duration_ms=500)
    events = run(det, [0.9] * 10 + [0.0] * 30)
    (i_stop, stopped) = events[1]
    assert isinstance(stopped, SpeechStopped)
    assert stopped.speech_end == 10 * FRAME
    assert stopped.audio_end == 10 * FRAME + 500 * MS
    # decided on the first frame whose end is >= 500 ms after the speech: 16 frames = 512 ms
    assert i_stop == 10 + 15


def test_short_pause_does_not_end_turn() -> None:
    events = run(detector(silence_duration_ms=500), [0.9] * 5 + [0.0] * 15 + [0.9] * 5 + [0.0] * 20)
    kinds = [type(e).__name__ for _, e in events]
    assert kinds == ["SpeechStarted", "SpeechStopped"]
    stopped = events[1][1]
    assert isinstance(stopped, SpeechStopped) and stopped.speech_end == 25 * FRAME


def test_zero_silence_duration_stops_on_first_silent_frame() -> None:
    events = run(detector(silence_duration_ms=0), [0.9, 0.9, 0.0])
    assert events[1] == (2, SpeechStopped(speech_end=2 * FRAME, audio_end=2 * FRAME))


def test_hysteresis_is_on_by_default_with_exit_at_threshold_minus_015() -> None:
    assert TurnDetectionConfig().effective_exit_threshold == pytest.approx(0.35)
    probs = [0.9] * 3 + [0.4] * 30
    only_start = run(detector(silence_duration_ms=100), probs)  # 0.4 >= 0.35: speech continues
    assert [type(e) for _, e in only_start] == [SpeechStarted]
    stopped = run(detector(silence_duration_ms=100), [0.9] * 3 + [0.34] * 30)
    assert [type(e) for _, e in stopped] == [SpeechStarted, SpeechStopped]


def test_exit_threshold_is_settable_and_equal_to_threshold_means_no_hysteresis() -> None:
    probs = [0.9] * 3 + [0.4] * 30
    assert len(run(detector(silence_duration_ms=100, exit_threshold=0.5), probs)) == 2
    only_start = run(detector(silence_duration_ms=100, exit_threshold=0.3), [0.9] * 3 + [0.32] * 30)
    assert [type(e) for _, e in only_start] == [SpeechStarted]
    assert TurnDetectionConfig(threshold=0.8).effective_exit_threshold == pytest.approx(0.65)


@pytest.mark.parametrize("threshold", [0.15, 0.1, 0.05, 0.01])
def test_a_low_threshold_still_reaches_silence(threshold: float) -> None:
    exit_threshold = TurnDetectionConfig(threshold=threshold).effective_exit_threshold
    assert 0.0 < exit_threshold < threshold
    det = detector(threshold=threshold, silence_duration_ms=96)
    quiet = exit_threshold * 0.9
    events = run(det, [threshold] * 3 + [quiet] * 5)
    assert [type(e) for _, e in events] == [SpeechStarted, SpeechStopped]


def test_hysteresis_needs_threshold_to_enter() -> None:
    assert run(detector(exit_threshold=0.3), [0.4] * 10) == []
    assert run(detector(), [0.49] * 10) == []


def test_onset_is_dated_back_over_rising_frames_at_most_two() -> None:
    det = detector(prefix_padding_ms=0)
    ((i, started),) = run(det, [0.0] * 10 + [0.2, 0.36, 0.4, 0.45, 0.9])
    assert i == 14
    assert started == SpeechStarted(onset=12 * FRAME, audio_start=12 * FRAME)  # 2 of 3 rising frames


def test_onset_dating_starts_where_the_probability_began_to_climb() -> None:
    # 0.3, a dip, then the climb: it starts at the dip, not before it
    probs = [0.0] * 10 + [0.3, 0.2, 0.3, 0.9]
    ((_, started),) = run(detector(prefix_padding_ms=0, onset_lookback_ms=96), probs)
    assert started == SpeechStarted(onset=11 * FRAME, audio_start=11 * FRAME)


def test_onset_dating_ignores_wobble_below_the_rise_floor() -> None:
    # 0.01 -> 0.03 is silence wobbling upwards, not the start of speech
    probs = [0.0] * 10 + [0.01, 0.03, 0.9]
    ((_, started),) = run(detector(prefix_padding_ms=0, onset_lookback_ms=96), probs)
    assert started == SpeechStarted(onset=12 * FRAME, audio_start=12 * FRAME)


def test_onset_dating_reaches_below_the_exit_threshold_on_a_steady_climb() -> None:
    ((_, started),) = run(detector(prefix_padding_ms=0), [0.0] * 10 + [0.06, 0.12, 0.9])
    assert started == SpeechStarted(onset=10 * FRAME, audio_start=10 * FRAME)


def test_onset_dating_can_be_turned_off_and_widened() -> None:
    probs = [0.0] * 10 + [0.4] * 4 + [0.9]
    ((_, off),) = run(detector(prefix_padding_ms=0, onset_lookback_ms=0), probs)
    assert isinstance(off, SpeechStarted) and off.onset == 14 * FRAME
    ((_, wide),) = run(detector(prefix_padding_ms=0, onset_lookback_ms=96), probs)
    assert isinstance(wide, SpeechStarted) and wide.onset == 11 * FRAME


def test_onset_dating_never_reaches_before_the_buffer_start() -> None:
    ((_, started),) = run(detector(prefix_padding_ms=0), [0.4, 0.9])
    assert isinstance(started, SpeechStarted) and started.onset == 0
    buffer = Buffer()
    det = detector(buffer, prefix_padding_ms=0)
    run(det, [0.4, 0.4, 0.4])
    buffer.start = 2 * FRAME  # a manual commit of the first two frames
    (started,) = det.push(0.9)
    assert started == SpeechStarted(onset=2 * FRAME, audio_start=2 * FRAME)


def test_by_default_one_frame_over_threshold_does_not_start_a_turn_but_two_do() -> None:
    det = TurnDetector(TurnDetectionConfig(warmup_ms=0), sample_rate=RATE, frame_length=FRAME)
    assert run(det, [0.0] * 5 + [0.9] + [0.0] * 30) == []
    ((i, started),) = run(det, [0.9, 0.9, 0.9])
    assert i == 1  # the second frame
    assert isinstance(started, SpeechStarted) and started.onset == 36 * FRAME


def test_during_the_warm_up_after_a_reset_a_turn_needs_five_frames_of_speech() -> None:
    det = TurnDetector(TurnDetectionConfig(), sample_rate=RATE, frame_length=FRAME)
    assert run(det, [0.9] * 4 + [0.0] * 20) == []  # 128 ms at 0 s: a fresh-state blip
    ((i, started),) = run(det, [0.9] * 6)
    assert i == 4  # 160 ms
    assert isinstance(started, SpeechStarted) and started.onset == 24 * FRAME
    later = TurnDetector(TurnDetectionConfig(), sample_rate=RATE, frame_length=FRAME)
    ((j, _),) = run(later, [0.0] * 63 + [0.9] * 4)  # 2016 ms after the reset: warm-up over
    assert j == 64
    later.reset(origin=later.position)
    assert run(later, [0.0] + [0.9] * 4) == []  # a reset starts a new warm-up


def test_min_speech_duration_counts_from_the_crossing_frame_not_the_dated_onset() -> None:
    det = detector(min_speech_duration_ms=90, prefix_padding_ms=0)
    events = run(det, [0.0, 0.4, 0.4, 0.9, 0.9, 0.9])
    assert events == [(5, SpeechStarted(onset=FRAME, audio_start=FRAME))]


def test_min_speech_duration_delays_start_but_keeps_onset() -> None:
    det = detector(min_speech_duration_ms=90, prefix_padding_ms=0)
    events = run(det, [0.0, 0.9, 0.9, 0.9, 0.9])
    assert events == [(3, SpeechStarted(onset=FRAME, audio_start=FRAME))]


def test_min_speech_duration_ignores_short_blips() -> None:
    assert run(detector(min_speech_duration_ms=90), [0.9, 0.9, 0.0] * 10) == []


def test_max_speech_duration_forces_turn_end() -> None:
    det = detector(max_speech_duration_ms=320, prefix_padding_ms=0)
    events = run(det, [0.9] * 25)
    stops = [(i, e) for i, e in events if isinstance(e, SpeechStopped)]
    assert stops[0] == (9, SpeechStopped(speech_end=10 * FRAME, audio_end=10 * FRAME, reason="max_duration"))
    starts = [e for _, e in events if isinstance(e, SpeechStarted)]
    assert starts[1].onset == 10 * FRAME  # continued speech starts the next turn at once


def test_loudness_floor_rejects_quiet_frames() -> None:
    det = detector(min_level_dbfs=-50.0)
    assert det.push(0.9, level_dbfs=-60.0) == []
    assert det.push(0.9, level_dbfs=-40.0) != []


def test_idle_timeout_triggers_after_audio_without_speech() -> None:
    det = detector(idle_timeout_ms=5000)
    frames_needed = -(-5000 * MS // FRAME)  # ceil
    events = run(det, [0.0] * (frames_needed * 2))
    assert [i for i, _ in events] == [frames_needed - 1, 2 * frames_needed - 1]
    first = events[0][1]
    assert first == IdleTimeout(audio_start=0, audio_end=frames_needed * FRAME)


def test_idle_timer_restarts_after_a_turn() -> None:
    det = detector(idle_timeout_ms=5000, silence_duration_ms=200)
    events = [e for _, e in run(det, [0.0] * 100 + [0.9] * 5 + [0.0] * 100)]
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]


def test_reset_cancels_turn_and_moves_origin() -> None:
    det = detector()
    det.push(0.9)
    assert det.speaking
    det.reset(10_000)
    assert not det.speaking
    (started,) = det.push(0.9)
    assert started == SpeechStarted(onset=10_000, audio_start=10_000)


def test_finish_closes_open_turn_at_last_speech() -> None:
    det = detector(silence_duration_ms=500)
    run(det, [0.9] * 4 + [0.0] * 3)
    (stopped,) = det.finish()
    assert stopped == SpeechStopped(speech_end=4 * FRAME, audio_end=7 * FRAME, reason="end_of_stream")
    assert det.finish() == []


def test_a_stream_cut_off_mid_speech_ends_its_speech_at_the_last_sample_heard() -> None:
    det = detector(silence_duration_ms=500)
    run(det, [0.9] * 4)
    (stopped,) = det.finish(heard_until=4 * FRAME + 100)  # a partial frame was never scored
    end = 4 * FRAME + 100
    assert stopped == SpeechStopped(speech_end=end, audio_end=end, reason="end_of_stream")


def test_configure_keeps_turn_in_progress() -> None:
    det = detector(silence_duration_ms=1000)
    det.push(0.9)
    det.configure(TurnDetectionConfig(silence_duration_ms=0))
    assert det.speaking
    assert isinstance(det.push(0.0)[0], SpeechStopped)


@pytest.mark.parametrize(
    "bad",
    [
        {"threshold": 1.5},
        {"threshold": -0.1},
        {"prefix_padding_ms": -1},
        {"exit_threshold": 0.9},
        {"onset_lookback_ms": -1},
        {"max_speech_duration_ms": 0},
        {"idle_timeout_ms": 0},
    ],
)
def test_invalid_config_is_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        TurnDetectionConfig(**bad)  # type: ignore[arg-type]


def test_merged_rejects_unknown_fields() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        TurnDetectionConfig().merged(bogus=1)
    assert TurnDetectionConfig().merged(threshold=0.7).threshold == 0.7


@settings(max_examples=200, deadline=None)
@given(
    probs=st.lists(st.floats(0, 1), max_size=200),
    silence=st.integers(0, 1000),
    prefix=st.integers(0, 1000),
)
def test_turns_alternate_and_positions_are_ordered(probs: list[float], silence: int, prefix: int) -> None:
    det = detector(silence_duration_ms=silence, prefix_padding_ms=prefix)
    events = [e for _, e in run(det, probs)] + det.finish()
    last_end = 0
    for i, event in enumerate(events):
        expected = SpeechStarted if i % 2 == 0 else SpeechStopped
        assert isinstance(event, expected)
        if isinstance(event, SpeechStarted):
            assert last_end <= event.audio_start <= event.onset
        else:
            assert isinstance(event, SpeechStopped)
            assert event.speech_end <= event.audio_end <= det.position
            last_end = event.audio_end


# -- a stop waits while the probability climbs back (the mirror of onset dating) -----------------
SPEECH = [0.9] * 3  # a turn starts (min speech 0 in detector())


def _stops(events: list[tuple[int, object]]) -> list[SpeechStopped]:
    return [e for _, e in events if isinstance(e, SpeechStopped)]


def test_a_stop_on_silence_below_the_rise_floor_is_decided_at_once() -> None:
    det = detector(prefix_padding_ms=0, silence_duration_ms=96)
    (stop,) = _stops(run(det, [*SPEECH, 0.01, 0.01, 0.04]))
    assert stop == SpeechStopped(speech_end=3 * FRAME, audio_end=3 * FRAME + ms_to_samples(96, RATE))


def test_speech_resuming_on_a_climb_at_the_end_of_the_silence_window_continues_the_turn() -> None:
    det = detector(prefix_padding_ms=0, silence_duration_ms=96)
    events = run(det, [*SPEECH, 0.01, 0.01, 0.1, 0.3, 0.9, 0.9])
    assert _stops(events) == []
    assert det.speaking


def test_a_stop_held_for_a_rise_that_breaks_is_decided_one_frame_later() -> None:
    det = detector(prefix_padding_ms=0, silence_duration_ms=96)
    (stop,) = _stops(run(det, [*SPEECH, 0.01, 0.01, 0.1, 0.05]))
    assert stop.speech_end == 3 * FRAME
    assert stop.audio_end == 3 * FRAME + ms_to_samples(96, RATE) + FRAME


def test_a_stop_waits_for_a_rise_at_most_the_onset_lookback() -> None:
    det = detector(prefix_padding_ms=0, silence_duration_ms=96)
    (stop,) = _stops(run(det, [*SPEECH, 0.01, 0.01, 0.1, 0.2, 0.3]))
    assert stop.audio_end == 3 * FRAME + ms_to_samples(96, RATE) + 2 * FRAME
    det = detector(prefix_padding_ms=0, silence_duration_ms=96, onset_lookback_ms=0)
    (stop,) = _stops(run(det, [*SPEECH, 0.01, 0.01, 0.1, 0.2, 0.3]))
    assert stop.audio_end == 3 * FRAME + ms_to_samples(96, RATE)


def test_the_next_turn_after_a_held_stop_waits_afresh() -> None:
    det = detector(prefix_padding_ms=0, silence_duration_ms=96)
    first = [*SPEECH, 0.01, 0.01, 0.1, 0.05]
    stops = _stops(run(det, first + SPEECH + [0.01, 0.01, 0.1, 0.2, 0.01]))
    assert len(stops) == 2
    assert stops[1].audio_end == stops[1].speech_end + ms_to_samples(96, RATE) + 2 * FRAME


def test_the_buffer_start_is_read_from_the_buffer_and_never_copied() -> None:
    """One owner: a commit or dropped silence moves only the buffer; the detector sees it at once,
    and after a turn of its own it counts from that turn's end until the buffer moves past it."""
    buffer = Buffer()
    det = detector(buffer, prefix_padding_ms=300, silence_duration_ms=96)
    run(det, [0.0] * 20)
    assert det.buffer_start == 0 and det.earliest_turn_start() == 20 * FRAME - 300 * MS
    buffer.start = 19 * FRAME  # silence dropped from the buffer: nothing told the detector
    assert det.buffer_start == 19 * FRAME and det.earliest_turn_start() == 19 * FRAME
    ((_, started),) = run(det, [0.9])
    assert started == SpeechStarted(onset=20 * FRAME, audio_start=19 * FRAME)
    ((_, stopped),) = run(det, [0.0] * 3)
    assert isinstance(stopped, SpeechStopped) and det.buffer_start == stopped.audio_end == 24 * FRAME
    buffer.start = stopped.audio_end  # the VAD commit
    buffer.start = 30 * FRAME  # later, more silence dropped
    assert det.buffer_start == 30 * FRAME
