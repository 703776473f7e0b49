"""Run the systems over labelled audio through the real streaming path and score them.

Audio takes the path a client's audio takes: encoded in the wire format of the condition
(``audio/pcm`` 24 kHz PCM16, or 8 kHz G.711 mu-law / A-law for the telephony conditions) and
appended in chunks to :class:`openapiopenai.offline.Detector`, which runs the protocol
``Session`` itself (decoding, resampling to the model's rate, framing, scoring, the turn
detector). Turns are the detector's own events from the session's turn log. A recording
wrapper keeps the probabilities the model gave, so that the baseline rules and the frame-level
diagnostic read the very numbers the session used, and a second configuration of the same model
replays them instead of scoring again.

Systems, side by side:

* ``ours``: the configured :class:`TurnDetectionConfig` (defaults unless flags say otherwise) on
  the default model;
* ``ours-before``: the same settings under the rules before issue 12 (:func:`before_config`: no
  hysteresis, onset dating, minimum speech or warm-up), replaying the scores of ``ours`` (the
  model-rate choice, Silero's 8 kHz head for G.711, did not change);
* ``silero-vaditerator``: Silero with the VADIterator rule (threshold 0.5, exit 0.35, 100 ms
  minimum silence, 30 ms pad); at turn level the same rule with the turn settings (minimum
  silence = ``silence_duration_ms``, no pad), as ``evaluation.md`` prescribes. It reads the
  probabilities of ``ours`` (same model, same rate): only the rule differs;
* ``webrtc``: webrtcvad mode 3 under our turn detector with the same settings;
* ``energy``: the energy detector under our turn detector with the same settings.

Every file starts a fresh session, so the model state is reset per file (Silero's first frames
after a reset score higher than the same audio would mid-stream; see ``docs/evaluation-results.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

from openapiopenai.audio.formats import PCM16_24K, PCMA, PCMU, AudioFormat, encode
from openapiopenai.audio.pipeline import frame_levels_dbfs
from openapiopenai.evaluation.baselines import vad_iterator
from openapiopenai.evaluation.datasets import Dataset, LabelledFile, read_mono
from openapiopenai.evaluation.metrics import (
    Counts,
    Turn,
    TurnStats,
    cells_from_frames,
    cells_from_segments,
    n_cells,
    roc_auc,
)
from openapiopenai.offline import Detector
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.turns.detector import SpeechStarted, SpeechStopped, TurnDetector, TurnEvent
from openapiopenai.turns.timeline import ms_to_samples
from openapiopenai.vad.base import FloatArray, SpeechModel, StreamState, score_stream
from openapiopenai.vad.registry import AUTO, load_model

__all__ = [
    "CHUNK_MS",
    "CONDITIONS",
    "OVERALL",
    "SYSTEMS",
    "DetectorRun",
    "RecordingModel",
    "ReplayModel",
    "Scored",
    "SystemResult",
    "before_config",
    "evaluate",
    "iterator_frame_cells",
    "iterator_turns",
    "run_detector",
    "run_session",
    "scored_files",
    "speech_runs",
    "wire_bytes",
]

CONDITIONS: Final[dict[str, AudioFormat]] = {"clean": PCM16_24K, "pcmu": PCMU, "pcma": PCMA}
SYSTEMS: Final = ("ours", "ours-before", "silero-vaditerator", "webrtc", "energy")
OVERALL: Final = "overall"
#: client append size; any size gives the same result (the pipeline is chunking-invariant)
CHUNK_MS: Final = 40
#: VADIterator's documented defaults, the frame-level baseline
ITERATOR_THRESHOLD: Final = 0.5
ITERATOR_EXIT: Final = 0.35
ITERATOR_MIN_SILENCE_MS: Final = 100
ITERATOR_PAD_MS: Final = 30

BoolArray = npt.NDArray[np.bool_]


def wire_bytes(samples: FloatArray, rate: int, fmt: AudioFormat) -> bytes:
    """Mono float samples at ``rate`` as a client would send them in ``fmt``."""
    audio = np.asarray(samples, dtype=np.float32)
    if rate != fmt.sample_rate:
        audio = np.asarray(soxr.resample(audio, rate, fmt.sample_rate, quality="HQ"), dtype=np.float32)
    return encode(fmt, audio)


def before_config(config: TurnDetectionConfig) -> TurnDetectionConfig:
    """``config`` under the rules before issue 12: no hysteresis, no onset dating, no minimum
    speech and no warm-up (the other settings as given)."""
    return config.merged(
        exit_threshold=config.threshold, onset_lookback_ms=0, min_speech_duration_ms=0, warmup_ms=0
    )


class _Opaque:
    """A stream state for :class:`ReplayModel` (nothing to remember)."""

    def reset(self) -> None:
        pass


class RecordingModel:
    """A :class:`SpeechModel` that scores with ``inner`` and keeps what it gave, in order.

    ``rates`` overrides the rates offered to the session (e.g. ``(8000, 16000)`` to have G.711
    scored by Silero's 8 kHz head as before issue 12)."""

    def __init__(self, inner: SpeechModel, rates: tuple[int, ...] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self._rates = rates
        self.probabilities: list[FloatArray] = []
        self.levels_dbfs: list[npt.NDArray[np.float64]] = []
        self.sample_rate = 0
        self.frame_samples_used = 0

    def supported_rates(self) -> tuple[int, ...]:
        return self._rates or self.inner.supported_rates()

    def frame_samples(self, sample_rate: int) -> int:
        return self.inner.frame_samples(sample_rate)

    def new_state(self, sample_rate: int) -> StreamState:
        return self.inner.new_state(sample_rate)

    def _keep(self, frames: FloatArray, out: FloatArray, sample_rate: int) -> FloatArray:
        self.sample_rate, self.frame_samples_used = sample_rate, frames.shape[1]
        self.probabilities.append(np.array(out, dtype=np.float32))
        self.levels_dbfs.append(frame_levels_dbfs(frames))
        return out

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        return self._keep(frames, self.inner.score(frames, states, sample_rate), sample_rate)

    def score_sequence(self, frames: FloatArray, state: StreamState, sample_rate: int) -> FloatArray:
        return self._keep(frames, score_stream(self.inner, frames, state, sample_rate), sample_rate)

    def scored(self, fmt: AudioFormat, total_samples: int) -> Scored:
        """What was recorded, on the input timeline of ``fmt``."""
        p = np.concatenate(self.probabilities) if self.probabilities else np.zeros(0, np.float32)
        levels = np.concatenate(self.levels_dbfs) if self.levels_dbfs else np.zeros(0)
        rate = self.sample_rate or self.supported_rates()[0]
        frame = self.frame_samples_used or self.inner.frame_samples(rate)
        frame_length, rest = divmod(frame * fmt.sample_rate, rate)
        if rest:
            raise ValueError(f"{self.name} frames do not map onto {fmt.ga_type} samples")
        return Scored(p, levels, frame_length, fmt.sample_rate, total_samples)


class ReplayModel:
    """Gives back the probabilities a :class:`RecordingModel` recorded, in order: a second
    session over the same audio at the same rate sees the same frames, so it need not score
    them again."""

    def __init__(self, recorded: RecordingModel) -> None:
        self.name = recorded.name
        self._rates = (recorded.sample_rate,) if recorded.sample_rate else recorded.supported_rates()
        self._frame = recorded.frame_samples_used
        self._scores = np.concatenate(recorded.probabilities) if recorded.probabilities else np.zeros(0)
        self._next = 0

    def supported_rates(self) -> tuple[int, ...]:
        return self._rates

    def frame_samples(self, sample_rate: int) -> int:
        return self._frame

    def new_state(self, sample_rate: int) -> StreamState:
        return _Opaque()

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        start, self._next = self._next, self._next + len(frames)
        if self._next > len(self._scores):
            raise ValueError("replayed more frames than were recorded")
        return np.asarray(self._scores[start : self._next], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Scored:
    """One model's view of one stream, on the input (wire) timeline.

    Frame ``k`` covers input samples ``[k * frame_length, (k + 1) * frame_length)``."""

    probabilities: FloatArray
    levels_dbfs: npt.NDArray[np.float64]
    frame_length: int
    sample_rate: int
    total_samples: int

    @property
    def frame_s(self) -> float:
        return self.frame_length / self.sample_rate

    @property
    def duration_s(self) -> float:
        return self.total_samples / self.sample_rate


def turns_from_log(log: Iterable[TurnEvent], rate: int) -> list[Turn]:
    """The detector's own turns (seconds): exact onset, speech end, and when the stop was known."""
    turns: list[Turn] = []
    onset: int | None = None
    for event in log:
        if isinstance(event, SpeechStarted):
            onset = event.onset
        elif isinstance(event, SpeechStopped) and onset is not None:
            turns.append(Turn(onset / rate, event.speech_end / rate, event.audio_end / rate))
            onset = None
    return turns


@dataclass(frozen=True, slots=True)
class SessionRun:
    """One :class:`Detector` session over one stream: its turns and what its model gave."""

    turns: list[Turn]
    scored: Scored
    model: RecordingModel


def run_session(
    model: SpeechModel,
    audio: bytes,
    fmt: AudioFormat,
    config: TurnDetectionConfig,
    *,
    chunk_ms: int = CHUNK_MS,
    rates: tuple[int, ...] | None = None,
) -> SessionRun:
    """Stream ``audio`` (bytes of ``fmt``) through a fresh :class:`Detector` in ``chunk_ms`` appends."""
    recorder = RecordingModel(model, rates)
    detector = Detector(config, model=recorder, input_format=fmt)
    step = max(1, chunk_ms * fmt.bytes_per_ms)
    for i in range(0, len(audio), step):
        detector.feed(audio[i : i + step])
    detector.flush()
    total = len(audio) // fmt.bytes_per_sample
    return SessionRun(
        turns_from_log(detector.session.turn_log, fmt.sample_rate),
        recorder.scored(fmt, total),
        recorder,
    )


def score_audio(model: SpeechModel, audio: bytes, fmt: AudioFormat, chunk_ms: int = CHUNK_MS) -> Scored:
    """Stream ``audio`` through a session and return every frame's score."""
    return run_session(model, audio, fmt, TurnDetectionConfig(), chunk_ms=chunk_ms).scored


@dataclass(frozen=True, slots=True)
class DetectorRun:
    """Our detector over one stream: its frame decision and its turns (seconds)."""

    #: the detector's decision per model frame, as it made it (``frame_speech`` after each push)
    decisions: BoolArray
    #: the frame decision as speech intervals: runs of speech frames, the run that started a
    #: turn dated back to the turn's onset (the detector's onset dating)
    speech: list[tuple[float, float]]
    turns: list[Turn]

    def cells(self, n: int) -> BoolArray:
        """The frame decision on the 10 ms grid."""
        return cells_from_segments(self.speech, n)


def speech_runs(decisions: BoolArray) -> list[tuple[int, int]]:
    """``[first, last + 1)`` frame indices of each run of speech frames."""
    edges = np.diff(np.concatenate(([0], decisions.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()
    return list(zip(starts, ends, strict=True))


def run_detector(scored: Scored, config: TurnDetectionConfig, confirm: Scored | None = None) -> DetectorRun:
    """The frame decision (the diagnostic): :class:`TurnDetector` over recorded probabilities.

    The detector is pure, so the same probabilities give the same decisions and turns as in the
    session (a test pins it). The run of speech frames that started a turn begins at that turn's
    onset, so the frame level measures the onset the detector reports. ``confirm``: the second
    opinion on the same frames (a denoised session's scores of its un-denoised audio)."""
    detector = TurnDetector(config, sample_rate=scored.sample_rate, frame_length=scored.frame_length)
    levels = scored.levels_dbfs.tolist() if config.min_level_dbfs is not None else None
    n = len(scored.probabilities)
    if confirm is not None and len(confirm.probabilities) < n:
        raise ValueError(f"a second opinion on {len(confirm.probabilities)} frames, not {n}")
    confirms = None if confirm is None else confirm.probabilities.tolist()
    decisions = np.zeros(n, dtype=bool)
    events = []
    for i, p in enumerate(scored.probabilities.tolist()):
        events += detector.push(
            p, None if levels is None else levels[i], None if confirms is None else confirms[i]
        )
        decisions[i] = detector.frame_speech
    events += detector.finish(scored.total_samples)
    rate, length = scored.sample_rate, scored.frame_length
    turns = turns_from_log(events, rate)
    runs = [(a * length, b * length) for a, b in speech_runs(decisions)]
    starts = [a for a, _ in runs]
    spans = list(runs)
    for turn in turns:  # the stretch each turn's onset was dated back over
        onset = round(turn.onset * rate)
        i = int(np.searchsorted(starts, onset))
        if i < len(starts) and starts[i] > onset:
            spans.append((onset, starts[i]))
    speech = [(a / rate, b / rate) for a, b in sorted(spans)]
    return DetectorRun(decisions, speech, turns)


def iterator_frame_cells(scored: Scored, n: int) -> BoolArray:
    """The VADIterator baseline's frame decision on the 10 ms grid (its padded segments)."""
    rate = scored.sample_rate
    segments = vad_iterator(
        scored.probabilities.tolist(),
        scored.frame_length,
        scored.total_samples,
        threshold=ITERATOR_THRESHOLD,
        exit_threshold=ITERATOR_EXIT,
        min_silence=ITERATOR_MIN_SILENCE_MS * rate / 1000,
        speech_pad=ITERATOR_PAD_MS * rate / 1000,
    )
    return cells_from_segments([(s.start / rate, s.end / rate) for s in segments], n)


def iterator_turns(scored: Scored, config: TurnDetectionConfig) -> list[Turn]:
    """The VADIterator rule with the turn settings: min silence = silence window, no pad."""
    rate = scored.sample_rate
    segments = vad_iterator(
        scored.probabilities.tolist(),
        scored.frame_length,
        scored.total_samples,
        threshold=config.threshold,
        exit_threshold=ITERATOR_EXIT,
        min_silence=ms_to_samples(config.silence_duration_ms, rate),
        speech_pad=0,
    )
    return [Turn(s.start / rate, s.end / rate, s.known_at / rate) for s in segments]


@dataclass
class SystemResult:
    """Pooled results of one system over some files."""

    frames: Counts = field(default_factory=Counts)
    turns: TurnStats = field(default_factory=TurnStats)
    scores: list[npt.NDArray[np.float64]] = field(default_factory=list)
    labels: list[BoolArray] = field(default_factory=list)

    def add(
        self,
        predicted: BoolArray,
        probabilities: npt.NDArray[np.float64],
        truth: BoolArray,
        turns: Sequence[Turn],
        file: LabelledFile,
        duration_s: float,
        silence_s: float,
    ) -> None:
        self.frames.add(predicted, truth)
        self.scores.append(probabilities)
        self.labels.append(truth)
        self.turns.add(turns, file.speech, duration_s, silence_s)

    def row(self) -> dict[str, float]:
        auc = (
            roc_auc(np.concatenate(self.scores), np.concatenate(self.labels)) if self.scores else float("nan")
        )
        return {
            "precision": self.frames.precision,
            "recall": self.frames.recall,
            "f1": self.frames.f1,
            "auc": auc,
            **self.turns.summary(),
        }


@dataclass(frozen=True, slots=True)
class ScoredFile:
    """One file under one condition: every system's turns and the scores its frames came from."""

    dataset: str
    file: LabelledFile
    condition: str
    #: per system: the scores of its model (on the input timeline) and its turns
    systems: dict[str, tuple[Scored, list[Turn], DetectorRun | None]]
    truth: BoolArray
    duration_s: float


def _models(backend: str) -> dict[str, SpeechModel]:
    return {
        "ours": load_model(backend),
        "silero": load_model("silero"),
        "webrtc": load_model("webrtc", mode=3),
        "energy": load_model("energy"),
    }


def scored_files(
    datasets: Iterable[Dataset],
    conditions: Sequence[str],
    config: TurnDetectionConfig,
    *,
    backend: str = AUTO,
    chunk_ms: int = CHUNK_MS,
    progress: Callable[[LabelledFile], None] | None = None,
) -> Iterator[ScoredFile]:
    """Each file of each dataset under each condition, through a fresh session per system."""
    models = _models(backend)
    before = before_config(config)
    for dataset in datasets:
        for file in dataset.files:
            samples, rate = read_mono(file.path)
            for condition in conditions:
                fmt = CONDITIONS[condition]
                audio = wire_bytes(samples, rate, fmt)
                total = len(audio) // fmt.bytes_per_sample
                duration = total / fmt.sample_rate
                ours = run_session(models["ours"], audio, fmt, config, chunk_ms=chunk_ms)
                # the model-rate rule did not change in issue 12: the same scores, replayed
                old = run_session(ReplayModel(ours.model), audio, fmt, before, chunk_ms=chunk_ms)
                old = SessionRun(old.turns, ours.scored, ours.model)
                silero = (
                    ours
                    if models["ours"] is models["silero"]
                    else run_session(models["silero"], audio, fmt, config, chunk_ms=chunk_ms)
                )
                systems: dict[str, tuple[Scored, list[Turn], DetectorRun | None]] = {
                    "ours": (ours.scored, ours.turns, run_detector(ours.scored, config)),
                    "ours-before": (old.scored, old.turns, run_detector(old.scored, before)),
                    "silero-vaditerator": (silero.scored, iterator_turns(silero.scored, config), None),
                }
                for name in ("webrtc", "energy"):
                    run = run_session(models[name], audio, fmt, config, chunk_ms=chunk_ms)
                    systems[name] = (run.scored, run.turns, run_detector(run.scored, config))
                truth = cells_from_segments(file.speech, n_cells(duration))
                yield ScoredFile(dataset.name, file, condition, systems, truth, duration)
            if progress is not None:
                progress(file)


def evaluate(
    datasets: Iterable[Dataset],
    conditions: Sequence[str],
    config: TurnDetectionConfig,
    *,
    backend: str = AUTO,
    chunk_ms: int = CHUNK_MS,
    progress: Callable[[LabelledFile], None] | None = None,
) -> dict[tuple[str, str], dict[str, SystemResult]]:
    """Results keyed by (dataset name or ``"overall"``, condition), then by system."""
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown condition(s): {', '.join(sorted(unknown))}")
    silence_s = config.silence_duration_ms / 1000
    results: dict[tuple[str, str], dict[str, SystemResult]] = {}
    items = scored_files(datasets, conditions, config, backend=backend, chunk_ms=chunk_ms, progress=progress)
    for item in items:
        n = len(item.truth)
        for system in SYSTEMS:
            scored, turns, run = item.systems[system]
            probabilities = cells_from_frames(scored.probabilities, scored.frame_s, n)
            predicted = iterator_frame_cells(scored, n) if run is None else run.cells(n)
            for key in ((item.dataset, item.condition), (OVERALL, item.condition)):
                result = results.setdefault(key, {}).setdefault(system, SystemResult())
                result.add(predicted, probabilities, item.truth, turns, item.file, item.duration_s, silence_s)
    # datasets first, in the order given, then overall; conditions in the order asked
    order = {name: i for i, name in enumerate(dict.fromkeys(k[0] for k in results if k[0] != OVERALL))}
    order[OVERALL] = len(order)
    return dict(sorted(results.items(), key=lambda kv: (list(conditions).index(kv[0][1]), order[kv[0][0]])))
