"""Smart Turn v3.2: P(the turn is complete) from the last 8 s of a turn's audio.

The model (``smart-turn-v3.2-cpu.onnx``, 8.7 MB, BSD-2-Clause, a Whisper-tiny encoder with a
classification head, int8) ships inside the ``pipecat-ai`` wheel. We read the file from that
installed distribution and run it with our own features (:mod:`openapiopenai.audio.whisper_mel`);
none of pipecat's code is imported. ``pipecat-ai`` pulls in ~290 MB of packages we do not use
(numba, aiohttp, Pillow ...), so it is the optional extra ``openapiopenai[semantic]``; only
sessions that ask for ``semantic_vad`` need it, and :func:`require_model` tells them what to install.

Input ``input_features`` float32 ``[B, 80, 800]``; output ``[B, 1]``, already a sigmoid.
One decision costs ~55 ms of one core here (48.6 ms the model call, 5.3 ms the log-mel; measured
by ``bench/bench_turn_end.py``) and batching does not make it cheaper on CPU, so the
session is single-threaded and the server runs decisions one at a time in a worker
(``server/turn_end.py``). onnxruntime's default graph optimisation is kept: the quantised model
is sensitive near 0.5 and this is the setting it was validated with.
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from openapiopenai.audio.whisper_mel import SAMPLE_RATE, log_mel
from openapiopenai.exceptions import ModelLoadError

__all__ = [
    "INSTALL_HINT",
    "EndOfTurnModel",
    "LazySmartTurnModel",
    "SmartTurnModel",
    "default_model_path",
    "require_model",
]


class EndOfTurnModel(Protocol):
    """What the shells ask: P(the turn in this 16 kHz audio is complete)."""

    def predict(self, audio: npt.NDArray[np.float32]) -> float: ...


MODEL_FILE: Final = "smart-turn-v3.2-cpu.onnx"
_DISTRIBUTION: Final = "pipecat-ai"
_IN_DISTRIBUTION: Final = f"pipecat/audio/turn/smart_turn/data/{MODEL_FILE}"
INSTALL_HINT: Final = (
    "semantic_vad needs the Smart Turn model, which ships in the 'pipecat-ai' wheel: "
    "pip install 'openapiopenai[semantic]'"
)


def default_model_path() -> Path:
    """Where the installed ``pipecat-ai`` distribution keeps the model (located, never imported)."""
    try:
        dist = importlib.metadata.distribution(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelLoadError(INSTALL_HINT) from exc
    path = Path(str(dist.locate_file(_IN_DISTRIBUTION)))
    if not path.is_file():
        raise ModelLoadError(f"{INSTALL_HINT} (the installed pipecat-ai has no {_IN_DISTRIBUTION})")
    return path


@lru_cache(maxsize=1)
def require_model() -> Path:
    """The model file, or :class:`ModelLoadError` naming what to install. Cheap after the first call."""
    return default_model_path()


class SmartTurnModel:
    """Smart Turn v3.2 on onnxruntime. ``predict`` is thread-safe (onnxruntime sessions are)."""

    name = "smart-turn-v3.2"
    sample_rate = SAMPLE_RATE

    def __init__(self, threads: int = 1, model_path: str | Path | None = None) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            raise ModelLoadError(f"Smart Turn model file not found: {path}")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            self._session: Any = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's own error types, re-raised as ours
            raise ModelLoadError(f"Cannot load the Smart Turn model from {path}: {exc}") from exc
        self.model_path = path
        self.threads = threads
        self._input = self._session.get_inputs()[0].name

    def features(self, audio: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """``[80, 800]`` model input for 16 kHz mono ``audio`` (any length; the last 8 s count)."""
        return log_mel(audio).astype(np.float32)

    def predict_features(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``[B, 80, 800]`` -> ``[B]`` probabilities that each turn is complete."""
        out = self._session.run(None, {self._input: np.ascontiguousarray(features, dtype=np.float32)})
        return np.asarray(out[0], dtype=np.float32).reshape(-1)

    def predict(self, audio: npt.ArrayLike) -> float:
        """P(turn complete) for one turn's 16 kHz audio."""
        return float(self.predict_features(self.features(audio)[np.newaxis])[0])

    def predict_many(self, audios: Sequence[npt.ArrayLike]) -> list[float]:
        if not audios:
            return []
        batch = np.stack([self.features(a) for a in audios])
        return [float(p) for p in self.predict_features(batch)]


class LazySmartTurnModel:
    """:class:`SmartTurnModel` loaded on the first question (in the worker thread that asks it), so
    a server starts as fast with the extra as without and holds no model until a session uses it."""

    def __init__(self, threads: int = 1, model_path: str | Path | None = None) -> None:
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        self.threads = threads
        self._model: SmartTurnModel | None = None
        self._lock = threading.Lock()

    def predict(self, audio: npt.ArrayLike) -> float:
        model = self._model
        if model is None:
            with self._lock:
                if self._model is None:
                    self._model = SmartTurnModel(self.threads, self.model_path)
                model = self._model
        return model.predict(audio)
