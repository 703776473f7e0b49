"""The VADIterator rule on scripted probabilities (frames of 100 samples)."""

from __future__ import annotations

from openapiopenai.evaluation.baselines import IteratorSegment, vad_iterator

F = 100  # samples per frame


def run(p: list[float], *, min_silence: float = 250, pad: float = 30) -> list[IteratorSegment]:
    return vad_iterator(p, F, len(p) * F, threshold=0.5, min_silence=min_silence, speech_pad=pad)


def test_speech_starts_at_the_first_frame_over_threshold_minus_the_pad() -> None:
    (segment,) = run([0.1, 0.2, 0.9, 0.9] + [0.0] * 6)
    assert segment.start == 2 * F - 30


def test_start_pad_is_clamped_at_the_stream_start() -> None:
    (segment,) = run([0.9] + [0.0] * 6)
    assert segment.start == 0


def test_speech_ends_after_min_silence_counted_from_the_end_of_the_first_silent_frame() -> None:
    # speech at frames 0-1; silent from frame 2 (mark = its end, 300); 250 more samples -> frame 5
    (segment,) = run([0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert segment.end == 2 * F + 30  # start of the first silent frame plus the pad
    assert segment.known_at == 6 * F  # the end of frame 5: 600 - 300 >= 250


def test_probabilities_between_exit_and_threshold_neither_end_nor_extend_a_pending_end() -> None:
    # 0.4 is under the threshold but over exit (0.35): it does not set the pending end
    (segment,) = run([0.9, 0.4, 0.4, 0.1, 0.1, 0.1, 0.1, 0.1], pad=0)
    assert segment.end == 3 * F
    # once the end is pending, 0.4 does not cancel it, and speech over threshold does
    (segment,) = run([0.9, 0.1, 0.4, 0.1, 0.1, 0.1], pad=0)
    assert (segment.end, segment.known_at) == (1 * F, 5 * F)
    segments = run([0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1], pad=0)
    assert [(s.start, s.end) for s in segments] == [(0, 3 * F)]


def test_a_gap_shorter_than_min_silence_is_bridged() -> None:
    segments = run([0.9, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1], pad=0)
    assert [(s.start, s.end) for s in segments] == [(0, 4 * F)]


def test_exit_threshold_defaults_to_threshold_minus_0_15() -> None:
    p = [0.9, 0.36, 0.36, 0.36, 0.36, 0.36]
    (open_to_end,) = vad_iterator(p, F, len(p) * F, threshold=0.5, min_silence=150, speech_pad=0)
    assert open_to_end.end == len(p) * F
    (ended,) = vad_iterator(
        p, F, len(p) * F, threshold=0.5, exit_threshold=0.4, min_silence=150, speech_pad=0
    )
    assert ended.end == F


def test_end_of_stream_closes_an_open_segment_at_its_pending_end() -> None:
    (segment,) = run([0.9, 0.9, 0.1], min_silence=1000, pad=0)
    assert (segment.end, segment.known_at) == (2 * F, 3 * F)
    (segment,) = run([0.9, 0.9], min_silence=1000, pad=0)
    assert segment.end == 2 * F
