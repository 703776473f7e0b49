"""Segments for people: the detector's speech boundaries widened by a small pad, within the audio."""

from __future__ import annotations

import csv
import io

import pytest

from openapiopenai.cli import main
from openapiopenai.offline import DEFAULT_SEGMENT_PAD_MS, Detector, Segment, pad_segments
from tests.audio._data import TWO_TURNS, fixture_path, speech_pcm


def test_padding_widens_each_segment_on_both_sides_within_the_audio() -> None:
    padded = pad_segments([Segment(0.01, 1.0), Segment(2.0, 2.99)], 0.03, 3.0)
    assert padded == [Segment(0.0, pytest.approx(1.03)), Segment(pytest.approx(1.97), 3.0)]


def test_padding_splits_a_short_gap_between_neighbours_at_its_middle() -> None:
    padded = pad_segments([Segment(1.0, 2.0), Segment(2.04, 3.0)], 0.03, 10.0)
    assert padded[0].end_s == pytest.approx(2.02) == padded[1].start_s
    assert padded[0].start_s == pytest.approx(0.97) and padded[1].end_s == pytest.approx(3.03)


def test_zero_padding_gives_the_detectors_exact_boundaries() -> None:
    segments = [Segment(0.5, 1.0), Segment(1.2, 2.0)]
    assert pad_segments(segments, 0.0, 3.0) == segments


def test_detector_segments_are_padded_by_default_and_exact_on_request() -> None:
    detector = Detector()
    detector.feed(speech_pcm(TWO_TURNS))
    detector.flush()
    exact, padded = detector.segments(0), detector.segments()
    assert len(exact) == len(padded) >= 1
    pad = DEFAULT_SEGMENT_PAD_MS / 1000
    heard = detector.session.audio_position_ms / 1000
    for e, p in zip(exact, padded, strict=True):
        assert p.start_s == pytest.approx(max(0.0, e.start_s - pad))
        assert p.end_s == pytest.approx(min(heard, e.end_s + pad))


def test_detect_cli_segment_padding_flag(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(fixture_path(TWO_TURNS))
    rows = {}
    for pad in ("0", "100"):
        assert main(["detect", path, "--output", "segments", "--no-progress", "--segment-pad-ms", pad]) == 0
        rows[pad] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows["0"]) == len(rows["100"]) >= 1
    first0, first100 = rows["0"][0], rows["100"][0]
    assert float(first100["start_s"]) == pytest.approx(max(0.0, float(first0["start_s"]) - 0.1), abs=1e-3)
