"""Turn-detection settings: the one home of the ``server_vad`` defaults.

The first four fields are the Realtime API's own (``threshold``, ``prefix_padding_ms``,
``silence_duration_ms``, ``idle_timeout_ms``) with its documented defaults. The rest are
extensions. The Realtime docs call ``threshold`` the *activation* threshold and leave open how
speech is judged to begin and continue, so four are on by default (issue 12, each measured in
``docs/evaluation-results.md``): hysteresis (``exit_threshold``), onset dating
(``onset_lookback_ms``), a minimum speech duration and a warm-up after each reset. The others
(``max_speech_duration_ms``, ``min_level_dbfs``) default to off.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final, Literal

from openapiopenai.exceptions import ConfigError

DEFAULT_THRESHOLD = 0.5
DEFAULT_PREFIX_PADDING_MS = 300
#: Documented everywhere in the SDK and spec; live sessions report 200 (see README).
DEFAULT_SILENCE_DURATION_MS = 500
#: The API's accepted range for ``idle_timeout_ms``.
IDLE_TIMEOUT_RANGE_MS = (5000, 30000)
#: Default hysteresis: speech continues down to ``threshold - EXIT_GAP`` (Silero's VADIterator
#: rule, and LiveKit's) ...
EXIT_GAP = 0.15
#: ... but never below this fraction of ``threshold``, so that for any threshold > 0 a frame can
#: fall below the exit and silence stays reachable (``threshold <= 0.15`` would otherwise give an
#: exit of 0, which every frame meets). Continuous with the gap rule at threshold 0.3.
EXIT_FLOOR_RATIO = 0.5
#: Default onset dating: up to two Silero frames (32 ms each). A causal model crosses the threshold
#: only after it has heard some of the speech; the frames just before the crossing that were
#: already part of the rise (above the exit threshold, or climbing out of silence) are where it began.
DEFAULT_ONSET_LOOKBACK_MS = 64
#: A frame counts as part of that climb only at or above this probability: Silero's output on
#: silence and steady background sits below it, where frame-to-frame wobble is not a rise.
ONSET_RISE_FLOOR = 0.05
#: Default minimum speech: LiveKit's 50 ms, i.e. two 32 ms Silero frames. One frame over the
#: threshold is shorter than any syllable; on non-speech such one-frame blips start turns.
DEFAULT_MIN_SPEECH_DURATION_MS = 50
#: A fresh model state (session start, a cleared or manually committed buffer) over-scores
#: non-speech for its first seconds: measured on nonspeech-dev, almost every false start falls in
#: the first 2 s after a reset, and the same frames score far lower once the state has heard
#: audio. During that warm-up a turn needs a syllable's worth of continuous speech (5 frames).
DEFAULT_WARMUP_MS = 2000
DEFAULT_WARMUP_MIN_SPEECH_MS = 160


def default_exit_threshold(threshold: float) -> float:
    """``threshold - EXIT_GAP``, floored at ``EXIT_FLOOR_RATIO * threshold``."""
    return max(threshold - EXIT_GAP, EXIT_FLOOR_RATIO * threshold)


@dataclass(frozen=True, slots=True)
class TurnDetectionConfig:
    """Frozen ``server_vad`` configuration; build new ones with :meth:`merged`."""

    threshold: float = DEFAULT_THRESHOLD
    prefix_padding_ms: int = DEFAULT_PREFIX_PADDING_MS
    silence_duration_ms: int = DEFAULT_SILENCE_DURATION_MS
    idle_timeout_ms: int | None = None
    #: Hysteresis: once speaking, a frame stays speech while its probability is >= this.
    #: ``None``: :func:`default_exit_threshold` of ``threshold`` (0.35 at 0.5); set it equal to
    #: ``threshold`` for no hysteresis.
    exit_threshold: float | None = None
    #: Date a turn's onset back over the frames (at most this long) just before the one that
    #: crossed ``threshold`` that were part of its rise (each >= the exit threshold, or
    #: >= :data:`ONSET_RISE_FLOOR` and below the frame after it). 0: no dating. Also the longest
    #: a stop waits when the silence window ends on such a rise (speech resuming there continues
    #: the turn).
    onset_lookback_ms: int = DEFAULT_ONSET_LOOKBACK_MS
    #: A turn starts only after this much continuous speech (its onset stays the first frame).
    min_speech_duration_ms: int = DEFAULT_MIN_SPEECH_DURATION_MS
    #: For this long after a reset (session start, clear, manual commit: the model state is new)
    #: a turn needs ``warmup_min_speech_ms`` of continuous speech instead (0: no warm-up).
    warmup_ms: int = DEFAULT_WARMUP_MS
    warmup_min_speech_ms: int = DEFAULT_WARMUP_MIN_SPEECH_MS
    #: Force the end of a turn after this much speech (``None``: no limit).
    max_speech_duration_ms: int | None = None
    #: Frames quieter than this RMS level (dBFS) are never speech (``None``: off).
    min_level_dbfs: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be within [0, 1], got {self.threshold}")
        if self.exit_threshold is not None and not 0.0 <= self.exit_threshold <= self.threshold:
            raise ConfigError(
                f"exit_threshold must be within [0, threshold={self.threshold}], got {self.exit_threshold}"
            )
        for name in (
            "prefix_padding_ms",
            "silence_duration_ms",
            "min_speech_duration_ms",
            "onset_lookback_ms",
            "warmup_ms",
            "warmup_min_speech_ms",
        ):
            value = getattr(self, name)
            if value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")
        if self.max_speech_duration_ms is not None and self.max_speech_duration_ms <= 0:
            raise ConfigError(f"max_speech_duration_ms must be > 0, got {self.max_speech_duration_ms}")
        if self.idle_timeout_ms is not None and self.idle_timeout_ms <= 0:
            raise ConfigError(f"idle_timeout_ms must be > 0, got {self.idle_timeout_ms}")

    @property
    def effective_exit_threshold(self) -> float:
        if self.exit_threshold is None:
            return default_exit_threshold(self.threshold)
        return self.exit_threshold

    def merged(self, **changes: Any) -> TurnDetectionConfig:
        """A copy with ``changes`` applied; keys that are ``None``-valued in a partial wire update
        must be filtered by the caller (``None`` is meaningful for the optional fields)."""
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise ConfigError(f"unknown turn detection setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Eagerness = Literal["low", "medium", "high", "auto"]

#: ``semantic_vad``: the longest silence waited before the turn ends whatever the end-of-turn
#: model says (OpenAI's documented maxima; ``auto`` is ``medium``).
EAGERNESS_MAX_WAIT_MS: Final[dict[str, int]] = {"low": 8000, "medium": 4000, "high": 2000, "auto": 4000}


@dataclass(frozen=True, slots=True)
class SemanticVadConfig:
    """Frozen ``semantic_vad`` configuration: onsets exactly as ``server_vad`` (``vad``), the end of
    a turn judged by an end-of-turn model within the eagerness' maximum wait."""

    eagerness: Eagerness = "auto"
    #: the onset rules (threshold, prefix padding) shared with ``server_vad``; the silence window is
    #: not used: the end of turn is the semantic rule's
    vad: TurnDetectionConfig = field(default_factory=TurnDetectionConfig)

    def __post_init__(self) -> None:
        if self.eagerness not in EAGERNESS_MAX_WAIT_MS:
            raise ConfigError(
                f"eagerness must be one of {sorted(EAGERNESS_MAX_WAIT_MS)}, got {self.eagerness!r}"
            )

    @property
    def max_wait_ms(self) -> int:
        return EAGERNESS_MAX_WAIT_MS[self.eagerness]
