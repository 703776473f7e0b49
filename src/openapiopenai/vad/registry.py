"""Speech models chosen by name: one table, one cache, "auto" meaning the preferred model.

Models are expensive to load and safe to share (per-stream state lives outside them), so
``load_model`` returns the same instance for the same name and options. Backends import their
heavy packages (onnxruntime, webrtcvad) only when constructed, so listing them is free.
"""

from __future__ import annotations

import inspect
from typing import Any, Final

from openapiopenai.exceptions import ConfigError
from openapiopenai.vad.base import SpeechModel
from openapiopenai.vad.energy import EnergyModel
from openapiopenai.vad.silero import SileroModel
from openapiopenai.vad.webrtc import WebRtcModel

__all__ = ["AUTO", "available_models", "load_model"]

AUTO: Final = "auto"

# registration order is the order of preference; "auto" is the first entry
_BACKENDS: Final[dict[str, type[SpeechModel]]] = {
    "silero": SileroModel,
    "webrtc": WebRtcModel,
    "energy": EnergyModel,
}
_CACHE: dict[tuple[str, tuple[tuple[str, Any], ...]], SpeechModel] = {}


def available_models() -> list[str]:
    """Registered model names, preferred first (``"auto"`` picks the first)."""
    return list(_BACKENDS)


def load_model(name: str = AUTO, **options: Any) -> SpeechModel:
    """The shared model called ``name`` (``"auto"`` = silero), built with ``options`` once.

    Raises ``ConfigError`` for an unknown name or option, ``ModelLoadError`` when the backend's
    package or file is missing.
    """
    resolved = available_models()[0] if name == AUTO else name
    backend = _BACKENDS.get(resolved)
    if backend is None:
        choices = ", ".join([AUTO, *_BACKENDS])
        raise ConfigError(f"Unknown speech model {name!r}; choose one of: {choices}.")
    accepted = inspect.signature(backend).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"Unknown option(s) {', '.join(unknown)} for the {resolved} model; "
            f"it accepts: {', '.join(accepted) or 'none'}."
        )
    try:
        key = (resolved, tuple(sorted(options.items())))
        hash(key)
    except TypeError as exc:
        raise ConfigError(f"Options for the {resolved} model must be hashable values: {options!r}") from exc
    model = _CACHE.get(key)
    if model is None:
        model = _CACHE[key] = backend(**options)
    return model
