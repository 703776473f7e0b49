"""Run the systems over labelled audio through the real streaming path and score them.

Audio takes the path a client's audio takes: encoded in the wire format of the condition
(``audio/pcm`` 24 kHz PCM16, or 8 kHz G.711 mu-law / A-law for the telephony conditions),
appended in chunks, decoded, resampled and framed by :class:`AudioPipeline`, scored by the
speech model, and fed frame by frame to :class:`TurnDetector` on the input-rate timeline: the
same pieces, in the same order, that the protocol ``Session`` runs. Each model scores a file
once per condition; every rule then reads the same probabilities.

Systems, side by side:

* ``ours``: the default :class:`TurnDetector` (or the configured one) on the default model. Its
  frame decision is the detector's own per-frame decision (``TurnDetector.frame_speech``), so a
  change of the rule in the detector shows up here unchanged;
* ``silero-vaditerator``: Silero with the VADIterator rule (threshold 0.5, exit 0.35, 100 ms
  minimum silence, 30 ms pad); at turn level the same rule with the turn settings (minimum
  silence = ``silence_duration_ms``, no pad), as ``evaluation.md`` prescribes;
* ``webrtc``: webrtcvad mode 3 under our turn detector with the same settings;
* ``energy``: the energy detector under our turn detector with the same settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

from openapiopenai.audio.formats import PCM16_24K, PCMA, PCMU, AudioFormat, encode
from openapiopenai.audio.pipeline import AudioPipeline, frame_levels_dbfs
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
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.turns.detector import SpeechStarted, SpeechStopped, TurnDetector
from openapiopenai.turns.timeline import ms_to_samples
from openapiopenai.vad.base import FloatArray, SpeechModel, score_stream
from openapiopenai.vad.registry import load_model

__all__ = [
    "CHUNK_MS",
    "CONDITIONS",
    "OVERALL",
    "SYSTEMS",
    "DetectorRun",
    "Scored",
    "SystemResult",
    "evaluate",
    "iterator_frame_cells",
    "iterator_turns",
    "run_detector",
    "score_audio",
    "scored_files",
    "speech_runs",
    "wire_bytes",
]

CONDITIONS: Final[dict[str, AudioFormat]] = {"clean": PCM16_24K, "pcmu": PCMU, "pcma": PCMA}
SYSTEMS: Final = ("ours", "silero-vaditerator", "webrtc", "energy")
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


def score_audio(model: SpeechModel, audio: bytes, fmt: AudioFormat, chunk_ms: int = CHUNK_MS) -> Scored:
    """Stream ``audio`` (bytes of ``fmt``) in ``chunk_ms`` appends and score every frame."""
    rates = model.supported_rates()
    rate = fmt.sample_rate if fmt.sample_rate in rates else rates[0]
    frame = model.frame_samples(rate)
    frame_length, rest = divmod(frame * fmt.sample_rate, rate)
    if rest:
        raise ValueError(f"{model.name} frames do not map onto {fmt.ga_type} samples")
    pipeline = AudioPipeline(fmt, rate, frame)
    step = max(1, chunk_ms * fmt.bytes_per_ms)
    pieces = [pipeline.push(audio[i : i + step]) for i in range(0, len(audio), step)]
    frames = np.concatenate(pieces) if pieces else np.zeros((0, frame), np.float32)
    probabilities = score_stream(model, frames, model.new_state(rate), rate)
    return Scored(
        probabilities=np.asarray(probabilities, dtype=np.float32),
        levels_dbfs=frame_levels_dbfs(frames),
        frame_length=frame_length,
        sample_rate=fmt.sample_rate,
        total_samples=len(audio) // fmt.bytes_per_sample,
    )


@dataclass(frozen=True, slots=True)
class DetectorRun:
    """Our detector over one stream: its frame decision and its turns (seconds)."""

    #: the detector's decision per model frame, as it made it (``frame_speech`` after each push)
    decisions: BoolArray
    #: the frame decision as speech intervals: runs of speech frames, each dated back by the
    #: detector's onset lookback if it has one
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


def run_detector(scored: Scored, config: TurnDetectionConfig) -> DetectorRun:
    """Feed the probabilities to :class:`TurnDetector` exactly as the Session does.

    The frame decision is the detector's ``frame_speech`` after each frame. A detector that
    dates speech onsets back (an ``onset_lookback`` attribute, in timeline samples; see
    ``docs/evaluation-results.md``) has the start of every run of speech frames moved back by
    as much, clamped at the stream start, so the frame level measures what the detector says."""
    detector = TurnDetector(config, sample_rate=scored.sample_rate, frame_length=scored.frame_length)
    levels = scored.levels_dbfs.tolist() if config.min_level_dbfs is not None else None
    decisions = np.zeros(len(scored.probabilities), dtype=bool)
    events = []
    for i, p in enumerate(scored.probabilities.tolist()):
        events += detector.push(p, None if levels is None else levels[i])
        decisions[i] = detector.frame_speech
    events += detector.finish(scored.total_samples)
    rate, length = scored.sample_rate, scored.frame_length
    lookback = int(getattr(detector, "onset_lookback", 0))
    speech = [(max(0, a * length - lookback) / rate, b * length / rate) for a, b in speech_runs(decisions)]
    turns: list[Turn] = []
    onset: int | None = None
    for event in events:
        if isinstance(event, SpeechStarted):
            onset = event.onset
        elif isinstance(event, SpeechStopped) and onset is not None:
            turns.append(Turn(onset / rate, event.speech_end / rate, event.audio_end / rate))
            onset = None
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
    """One file under one condition, with every model's scores and the true cells."""

    dataset: str
    file: LabelledFile
    condition: str
    scored: dict[str, Scored]
    truth: BoolArray

    @property
    def duration_s(self) -> float:
        return next(iter(self.scored.values())).duration_s


def scored_files(
    datasets: Iterable[Dataset],
    conditions: Sequence[str],
    models: dict[str, SpeechModel],
    *,
    chunk_ms: int = CHUNK_MS,
    progress: Callable[[LabelledFile], None] | None = None,
) -> Iterator[ScoredFile]:
    """Each file of each dataset under each condition, scored once by each model."""
    for dataset in datasets:
        for file in dataset.files:
            samples, rate = read_mono(file.path)
            for condition in conditions:
                fmt = CONDITIONS[condition]
                audio = wire_bytes(samples, rate, fmt)
                scored = {name: score_audio(m, audio, fmt, chunk_ms) for name, m in models.items()}
                duration = len(audio) / fmt.bytes_per_sample / fmt.sample_rate
                truth = cells_from_segments(file.speech, n_cells(duration))
                yield ScoredFile(dataset.name, file, condition, scored, truth)
            if progress is not None:
                progress(file)


def evaluate(
    datasets: Iterable[Dataset],
    conditions: Sequence[str],
    config: TurnDetectionConfig,
    *,
    backend: str = "auto",
    chunk_ms: int = CHUNK_MS,
    progress: Callable[[LabelledFile], None] | None = None,
) -> dict[tuple[str, str], dict[str, SystemResult]]:
    """Results keyed by (dataset name or ``"overall"``, condition), then by system."""
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown condition(s): {', '.join(sorted(unknown))}")
    ours_model = load_model(backend)
    models: dict[str, SpeechModel] = {
        "ours": ours_model,
        "silero": load_model("silero"),
        "webrtc": load_model("webrtc", mode=3),
        "energy": load_model("energy"),
    }
    if ours_model is models["silero"]:
        del models["ours"]  # score once, read twice
    model_of = {
        "ours": "ours" if "ours" in models else "silero",
        "silero-vaditerator": "silero",
        "webrtc": "webrtc",
        "energy": "energy",
    }
    silence_s = config.silence_duration_ms / 1000
    results: dict[tuple[str, str], dict[str, SystemResult]] = {}
    for item in scored_files(datasets, conditions, models, chunk_ms=chunk_ms, progress=progress):
        n = len(item.truth)
        for system in SYSTEMS:
            scored = item.scored[model_of[system]]
            probabilities = cells_from_frames(scored.probabilities, scored.frame_s, n)
            if system == "silero-vaditerator":
                predicted = iterator_frame_cells(scored, n)
                turns = iterator_turns(scored, config)
            else:
                run = run_detector(scored, config)
                predicted = run.cells(n)
                turns = run.turns
            for key in ((item.dataset, item.condition), (OVERALL, item.condition)):
                result = results.setdefault(key, {}).setdefault(system, SystemResult())
                result.add(predicted, probabilities, item.truth, turns, item.file, item.duration_s, silence_s)
    # datasets first, in the order given, then overall; conditions in the order asked
    order = {name: i for i, name in enumerate(dict.fromkeys(k[0] for k in results if k[0] != OVERALL))}
    order[OVERALL] = len(order)
    return dict(sorted(results.items(), key=lambda kv: (list(conditions).index(kv[0][1]), order[kv[0][0]])))
