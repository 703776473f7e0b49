"""Run the systems over labelled audio through the real streaming path and score them.

Audio takes the path a client's audio takes: encoded in the wire format of the condition
(``audio/pcm`` 24 kHz, or 8 kHz G.711 for the telephony conditions), decoded, resampled and
framed by :class:`AudioPipeline`, scored by the speech model frame by frame. Each model scores
a file once; every rule then reads the same probabilities.

Systems, side by side:

* ``ours``: the default :class:`TurnDetector` (Realtime ``server_vad`` defaults) on Silero;
* ``silero-vaditerator``: Silero with the VADIterator rules (threshold 0.5, exit 0.35, 100 ms
  minimum silence, 30 ms padding); at turn level the same rules with the turn settings
  (minimum silence = ``silence_duration_ms``, no padding), as ``evaluation.md`` says;
* ``webrtc``: webrtcvad mode 3 under the same default turn rule;
* ``energy``: the energy detector under the same default turn rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import soundfile
import soxr

from openapiopenai.audio import g711
from openapiopenai.audio.formats import PCM16_24K, PCMA, PCMU, AudioFormat
from openapiopenai.audio.pipeline import AudioPipeline
from openapiopenai.evaluation.datasets import Dataset, LabelledFile
from openapiopenai.evaluation.metrics import HOP_S, Counts, Turn, TurnStats, grid, roc_auc
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.turns.detector import SpeechStarted, SpeechStopped, TurnDetector
from openapiopenai.vad.base import FloatArray, SpeechModel, score_stream
from openapiopenai.vad.registry import load_model

CONDITIONS: dict[str, AudioFormat] = {"clean": PCM16_24K, "pcmu": PCMU, "pcma": PCMA}
SYSTEMS = ("ours", "silero-vaditerator", "webrtc", "energy")
#: which model each system reads
MODEL_OF = {"ours": "silero", "silero-vaditerator": "silero", "webrtc": "webrtc", "energy": "energy"}
CHUNK_MS = 40


@dataclass(frozen=True, slots=True)
class Scored:
    """One model's view of one file: a probability per frame and the frame duration."""

    probabilities: FloatArray
    frame_s: float
    duration_s: float


def wire_bytes(samples: FloatArray, rate: int, fmt: AudioFormat) -> bytes:
    audio = (
        soxr.resample(samples, rate, fmt.sample_rate).astype(np.float32)
        if rate != fmt.sample_rate
        else samples
    )
    if fmt is PCMU:
        return bytes(g711.ulaw_encode(audio))
    if fmt is PCMA:
        return bytes(g711.alaw_encode(audio))
    pcm: bytes = np.clip(np.round(audio * 32768.0), -32768, 32767).astype("<i2").tobytes()
    return pcm


def score_file(model: SpeechModel, audio: bytes, fmt: AudioFormat) -> Scored:
    rates = model.supported_rates()
    rate = fmt.sample_rate if fmt.sample_rate in rates else rates[0]
    frame = model.frame_samples(rate)
    pipeline = AudioPipeline(fmt, rate, frame)
    step = CHUNK_MS * fmt.bytes_per_ms
    frames = [pipeline.push(audio[i : i + step]) for i in range(0, len(audio), step)]
    stacked = np.concatenate(frames) if frames else np.zeros((0, frame), np.float32)
    probabilities = score_stream(model, stacked, model.new_state(rate), rate)
    return Scored(probabilities, frame / rate, len(audio) / fmt.bytes_per_sample / fmt.sample_rate)


def ours(scored: Scored, config: TurnDetectionConfig) -> tuple[npt.NDArray[np.bool_], list[Turn]]:
    """The detector's own frame decisions and turns (positions counted in model frames)."""
    per_s = 1000
    frame = round(scored.frame_s * per_s * 1000)  # frame length in microsecond "samples"
    detector = TurnDetector(config, sample_rate=per_s * 1000, frame_length=frame)
    decisions = np.zeros(len(scored.probabilities), dtype=bool)
    events = []
    for i, p in enumerate(scored.probabilities.tolist()):
        events += detector.push(p)
        decisions[i] = detector.frame_speech
    events += detector.finish(round(scored.duration_s * per_s * 1000))
    turns: list[Turn] = []
    onset = 0
    for event in events:
        if isinstance(event, SpeechStarted):
            onset = event.onset
        elif isinstance(event, SpeechStopped):
            turns.append(Turn(onset / 1e6, event.speech_end / 1e6, event.audio_end / 1e6))
    return decisions, turns


def vaditerator(
    scored: Scored, *, threshold: float = 0.5, exit_threshold: float = 0.35, min_silence_s: float = 0.1,
    pad_s: float = 0.03,
) -> list[Turn]:  # fmt: skip
    """Silero's VADIterator rules, written from their documented behaviour: speech starts at the
    first frame over ``threshold``; it ends at the first frame under ``exit_threshold`` once the
    silence has lasted ``min_silence_s``; both ends are padded by ``pad_s``."""
    turns: list[Turn] = []
    f = scored.frame_s
    triggered, start, silent_since = False, 0.0, None
    for i, p in enumerate(scored.probabilities.tolist()):
        now = (i + 1) * f  # end of this frame
        if p >= threshold:
            silent_since = None
            if not triggered:
                triggered, start = True, max(0.0, i * f - pad_s)
            continue
        if triggered and p < exit_threshold:
            if silent_since is None:
                silent_since = i * f
            if now - silent_since >= min_silence_s - 1e-9:  # float steps must not lose a frame
                turns.append(Turn(start, min(scored.duration_s, silent_since + pad_s), now))
                triggered, silent_since = False, None
    if triggered:
        end = silent_since if silent_since is not None else scored.duration_s
        turns.append(Turn(start, min(scored.duration_s, end + pad_s), scored.duration_s))
    return turns


def frames_to_grid(scored: Scored) -> FloatArray:
    """The probability of the model frame under each 10 ms cell's centre."""
    n = round(scored.duration_s / HOP_S)
    index = np.minimum(
        ((np.arange(n) + 0.5) * HOP_S / scored.frame_s).astype(int), len(scored.probabilities) - 1
    )
    if len(scored.probabilities) == 0:
        return np.zeros(n, np.float32)
    cells: FloatArray = scored.probabilities[np.maximum(index, 0)]
    return cells


def decisions_to_grid(decisions: npt.NDArray[np.bool_], scored: Scored) -> npt.NDArray[np.bool_]:
    return frames_to_grid(Scored(decisions.astype(np.float32), scored.frame_s, scored.duration_s)) >= 0.5


@dataclass
class SystemResult:
    frames: Counts = field(default_factory=Counts)
    turns: TurnStats = field(default_factory=TurnStats.empty)
    scores: list[FloatArray] = field(default_factory=list)
    labels: list[npt.NDArray[np.bool_]] = field(default_factory=list)

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


def evaluate(
    datasets: Iterable[Dataset],
    conditions: Iterable[str],
    config: TurnDetectionConfig,
    *,
    progress: Callable[[LabelledFile], None] | None = None,
) -> dict[tuple[str, str], dict[str, SystemResult]]:
    """Results keyed by (dataset name or "overall", condition), then by system."""
    models = {name: load_model(name) for name in set(MODEL_OF.values())}
    results: dict[tuple[str, str], dict[str, SystemResult]] = {}
    silence_s = config.silence_duration_ms / 1000
    for dataset in datasets:
        for file in dataset.files:
            samples, rate = soundfile.read(str(file.path), dtype="float32", always_2d=True)
            mono = np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32)
            for condition in conditions:
                audio = wire_bytes(mono, rate, CONDITIONS[condition])
                scored = {name: score_file(m, audio, CONDITIONS[condition]) for name, m in models.items()}
                duration = scored["silero"].duration_s
                truth = grid(file.speech, duration)
                for system in SYSTEMS:
                    s = scored[MODEL_OF[system]]
                    if system == "silero-vaditerator":
                        frame_turns = vaditerator(s)
                        predicted = grid([(t.onset, t.end) for t in frame_turns], duration)
                        turns = vaditerator(s, min_silence_s=silence_s, pad_s=0.0)
                    else:
                        decisions, turns = ours(s, config)
                        predicted = decisions_to_grid(decisions, s)
                    for key in ((dataset.name, condition), ("overall", condition)):
                        r = results.setdefault(key, {}).setdefault(system, SystemResult())
                        r.frames.add(predicted, truth)
                        r.turns.add(turns, file.speech, duration, silence_s)
                        r.scores.append(frames_to_grid(s)[: len(truth)])
                        r.labels.append(truth[: len(frames_to_grid(s))])
            if progress is not None:
                progress(file)
    return results


__all__ = ["CONDITIONS", "SYSTEMS", "Scored", "evaluate", "ours", "score_file", "vaditerator", "wire_bytes"]
