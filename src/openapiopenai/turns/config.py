"""Turn-detection settings: the one home of the ``server_vad`` defaults.

The first four fields are the Realtime API's own (``threshold``, ``prefix_padding_ms``,
``silence_duration_ms``, ``idle_timeout_ms``) with its documented defaults. The rest are
extensions users ask for; each defaults to a neutral value so that, untouched, the detector
behaves exactly as the Realtime documentation describes.
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


@dataclass(frozen=True, slots=True)
class TurnDetectionConfig:
    """Frozen ``server_vad`` configuration; build new ones with :meth:`merged`."""

    threshold: float = DEFAULT_THRESHOLD
    prefix_padding_ms: int = DEFAULT_PREFIX_PADDING_MS
    silence_duration_ms: int = DEFAULT_SILENCE_DURATION_MS
    idle_timeout_ms: int | None = None
    #: Hysteresis: once speaking, a frame stays speech while its probability is >= this.
    #: ``None`` means "same as threshold" (no hysteresis, the documented behaviour).
    exit_threshold: float | None = None
    #: A turn starts only after this much continuous speech (its onset stays the first frame).
    min_speech_duration_ms: int = 0
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
        for name in ("prefix_padding_ms", "silence_duration_ms", "min_speech_duration_ms"):
            value = getattr(self, name)
            if value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")
        if self.max_speech_duration_ms is not None and self.max_speech_duration_ms <= 0:
            raise ConfigError(f"max_speech_duration_ms must be > 0, got {self.max_speech_duration_ms}")
        if self.idle_timeout_ms is not None and self.idle_timeout_ms <= 0:
            raise ConfigError(f"idle_timeout_ms must be > 0, got {self.idle_timeout_ms}")

    @property
    def effective_exit_threshold(self) -> float:
        return self.threshold if self.exit_threshold is None else self.exit_threshold

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
