"""Samples <-> milliseconds: the one place where wire milliseconds are computed.

Everything inside the core counts samples on the session's audio timeline (all audio
appended during the session, at the input format's rate). Milliseconds exist only on the
wire, so they are made here and nowhere else. Conversions floor, as a byte counter would.
"""

from __future__ import annotations


def samples_to_ms(samples: int, sample_rate: int) -> int:
    return samples * 1000 // sample_rate


def ms_to_samples(ms: int, sample_rate: int) -> int:
    return ms * sample_rate // 1000
