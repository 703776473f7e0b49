"""Wire bytes in, model frames out: decode, resample, [denoise,] cut into fixed frames.

The one streaming path from what a client appends to what a speech model scores. It keeps three
carries so nothing is dropped and chunking never matters: a partial sample (an odd byte of
PCM16), the resampler's partial block, and a partial frame. Frame ``k`` holds model-rate samples
``[k * frame_samples, (k + 1) * frame_samples)``; because the resampler is delay-compensated
that is input-rate time ``[k * frame_samples * input_rate / model_rate, ...)`` on the stream
timeline (counted from construction or the last ``reset``).

An optional denoise stage (``noise_reduction``) cleans the model-rate samples before framing. It
is made and handed in by whoever owns the pipeline (the core never runs a network), and it
delays its output by a fixed number of samples; the pipeline drops that many samples once
after construction or ``reset``, so frame ``k`` still holds the audio of input time ``k``: the
timeline stays exact and the only cost is that each frame is ready that much later. With a
stage, ``push_with_raw`` also returns the same frames of the un-denoised audio (a second opinion
for the turn detector: what the denoiser makes of music or street noise can sound like speech).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from openapiopenai.audio.formats import AudioFormat, decode
from openapiopenai.audio.resample import StreamingResampler

__all__ = ["LEVEL_FLOOR_DBFS", "AudioPipeline", "DenoiseStage", "frame_levels_dbfs"]

FloatArray = npt.NDArray[np.float32]


class DenoiseStage(Protocol):
    """One stream's denoiser (``openapiopenai.denoise.DenoiseStream`` is one), at the model rate."""

    #: output lags input by this many samples, always
    delay: int

    def process(self, samples: FloatArray) -> FloatArray:
        """As many samples out as in, ``delay`` behind (the first ``delay`` hold no input)."""
        ...

    def reset(self) -> None:
        """Forget the stream's history."""
        ...


#: level reported for digital silence, so levels stay finite
LEVEL_FLOOR_DBFS = -100.0


class AudioPipeline:
    """Streaming decoder + resampler + framer for one audio stream."""

    def __init__(
        self, fmt: AudioFormat, model_rate: int, frame_samples: int, denoise: DenoiseStage | None = None
    ) -> None:
        if frame_samples <= 0:
            raise ValueError(f"frame_samples must be positive, got {frame_samples}")
        self.format = fmt
        self.input_rate = fmt.sample_rate
        self.model_rate = model_rate
        self.frame_samples = frame_samples
        #: frames returned since construction or the last ``reset``
        self.frames_emitted = 0
        self._resampler = StreamingResampler(fmt.sample_rate, model_rate)
        self._byte_carry = b""
        self._sample_carry = np.zeros(0, dtype=np.float32)
        self.denoise = denoise
        #: denoised samples still to drop to undo the stage's delay
        self._skip = denoise.delay if denoise is not None else 0
        #: with a stage: un-denoised samples not yet returned as frames (they run ahead)
        self._raw_carry = np.zeros(0, dtype=np.float32)

    def push(self, data: bytes | bytearray | memoryview) -> FloatArray:
        """Append wire bytes; return the newly completed frames, shape ``[n, frame_samples]``."""
        return self.push_with_raw(data)[0]

    def push_with_raw(self, data: bytes | bytearray | memoryview) -> tuple[FloatArray, FloatArray]:
        """As ``push``, and the same frames (same times) of the audio before the denoise stage.

        Without a stage both are the same array. With one, the raw samples are ready ``delay``
        samples sooner; they wait here until their denoised frames are complete."""
        if self._byte_carry:
            data = self._byte_carry + bytes(data)
        view = memoryview(data).cast("B")
        whole = len(view) - len(view) % self.format.bytes_per_sample
        self._byte_carry = bytes(view[whole:])
        samples = self._resampler.push(decode(self.format, view[:whole]))
        raw = samples
        if self.denoise is not None:
            if len(self._raw_carry):
                raw = np.concatenate((self._raw_carry, raw))
            samples = self.denoise.process(samples)
            if self._skip:
                dropped = min(self._skip, len(samples))
                samples, self._skip = samples[dropped:], self._skip - dropped
        carry = self._sample_carry
        held = len(carry)
        n = (held + len(samples)) // self.frame_samples
        if not n:
            self._sample_carry = np.concatenate((carry, samples)) if held else samples.copy()
            if self.denoise is not None:
                self._raw_carry = raw.copy()
            empty = np.empty((0, self.frame_samples), dtype=np.float32)
            return empty, empty
        # the frames are written once into a fresh array the caller may keep
        frames = np.empty((n, self.frame_samples), dtype=np.float32)
        flat = frames.reshape(-1)
        taken = len(flat) - held
        flat[:held] = carry
        flat[held:] = samples[:taken]
        self._sample_carry = samples[taken:].copy()
        self.frames_emitted += n
        if self.denoise is None:
            return frames, frames
        used = len(flat)
        self._raw_carry = raw[used:].copy()
        raw_frames = np.ascontiguousarray(raw[:used], dtype=np.float32).reshape(n, self.frame_samples)
        return frames, raw_frames

    def reset(self) -> None:
        """Forget partial input and resampler history (the buffer was cleared or committed)."""
        self._byte_carry = b""
        self._sample_carry = np.zeros(0, dtype=np.float32)
        self._raw_carry = np.zeros(0, dtype=np.float32)
        self._resampler.reset()
        self.frames_emitted = 0
        if self.denoise is not None:
            self.denoise.reset()
            self._skip = self.denoise.delay

    @property
    def held_back_bytes(self) -> int:
        """Bytes of a partial sample waiting for the rest of it."""
        return len(self._byte_carry)


def frame_levels_dbfs(frames: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """RMS level of each frame (rows of ``[n, samples]``) in dBFS, floored at -100.

    0 dBFS is the RMS of a full-scale square wave, so a full-scale sine reads about -3 dBFS.
    """
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected frames of shape [n, samples], got {x.shape}")
    if x.shape[1] == 0:
        return np.full(x.shape[0], LEVEL_FLOOR_DBFS)
    mean_square = np.einsum("ij,ij->i", x, x) / x.shape[1]
    floor = 10.0 ** (LEVEL_FLOOR_DBFS / 10.0)
    levels: npt.NDArray[np.float64] = 10.0 * np.log10(np.maximum(mean_square, floor))
    return levels
