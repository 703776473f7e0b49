"""Baseline rules applied to the same model probabilities as our detector.

``vad_iterator`` is Silero's streaming ``VADIterator`` rule, written here from its documented
behaviour (no code copied), over positions in samples:

* a frame with ``p >= threshold`` starts speech, if not already speaking; the segment starts at
  the start of that frame minus ``speech_pad`` (clamped at 0);
* a frame with ``p >= threshold`` also cancels a pending end;
* while speaking, the first frame with ``p < exit_threshold`` (``threshold - 0.15`` unless given)
  marks a pending end at *the end of that frame*; frames in between the two thresholds neither
  set nor cancel it;
* speech ends at a frame with ``p < exit_threshold`` once ``min_silence`` samples have passed
  since that mark; the segment ends at the start of the first silent frame plus ``speech_pad``.
  The end is known at the end of the frame that decided it.

Silero's defaults are threshold 0.5, ``min_silence_duration_ms`` 100, ``speech_pad_ms`` 30. The
end of the stream closes an open segment (at the pending end if one is marked).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["EXIT_GAP", "IteratorSegment", "vad_iterator"]

#: VADIterator's fixed hysteresis: speech ends below ``threshold - 0.15``
EXIT_GAP = 0.15


@dataclass(frozen=True, slots=True)
class IteratorSegment:
    """Sample positions: ``[start, end)`` is speech; the end was decided at ``known_at``."""

    start: int
    end: int
    known_at: int


def vad_iterator(
    probabilities: Iterable[float],
    frame_length: int,
    total_samples: int,
    *,
    threshold: float = 0.5,
    exit_threshold: float | None = None,
    min_silence: float,
    speech_pad: float,
) -> list[IteratorSegment]:
    """Segments of the VADIterator rule; ``min_silence`` and ``speech_pad`` in samples."""
    exit_below = threshold - EXIT_GAP if exit_threshold is None else exit_threshold
    segments: list[IteratorSegment] = []
    current = 0  # end of the frame being looked at
    triggered = False
    start = 0
    pending_end: int | None = None
    for p in probabilities:
        current += frame_length
        if p >= threshold:
            pending_end = None
            if not triggered:
                triggered = True
                start = max(0, round(current - frame_length - speech_pad))
            continue
        if triggered and p < exit_below:
            if pending_end is None:
                pending_end = current
            if current - pending_end >= min_silence:
                end = round(pending_end - frame_length + speech_pad)
                segments.append(IteratorSegment(start, min(end, total_samples), current))
                triggered, pending_end = False, None
    if triggered:
        end = total_samples if pending_end is None else round(pending_end - frame_length + speech_pad)
        segments.append(IteratorSegment(start, min(end, total_samples), max(current, total_samples)))
    return segments
