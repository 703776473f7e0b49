"""``eval --conditions noisy``: the speech sets mixed with real noise, with and without noise reduction.

Each speech file is mixed with a stretch of a ``nonspeech-dev`` recording (which one, and where
in it, drawn from a generator seeded with ``SEED`` and the file's name, so every run mixes the
same audio) at 0, 5 and 10 dB SNR. The SNR is speech power over the file's labelled speech
segments against noise power over the whole file: what a listener hears while someone talks,
not diluted by the pauses. The noise recordings are also run on their own, where every turn is a
false start. Each mix then takes the client's path (PCM16 at 24 kHz, 40 ms appends, the
session's ``AudioPipeline`` with or without the denoise stage, Silero, the default
``TurnDetector``), once per noise-reduction setting, and the turn-level measures are pooled
per dataset, condition and setting. As in a denoised session, the un-denoised scores are the
detector's second opinion on each onset (``run_detector(..., confirm=)``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import soxr

from openapiopenai.audio.formats import PCM16_24K, AudioFormat
from openapiopenai.audio.pipeline import AudioPipeline, frame_levels_dbfs
from openapiopenai.denoise import Denoiser, DenoiseStream, Mode
from openapiopenai.evaluation.datasets import Dataset, LabelledFile, load_dataset, read_mono
from openapiopenai.evaluation.metrics import Counts, TurnStats, cells_from_segments, n_cells
from openapiopenai.evaluation.runner import CHUNK_MS, OVERALL, Scored, run_detector, wire_bytes
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.base import FloatArray, SpeechModel, score_stream

__all__ = [
    "MIX_RATE",
    "NOISE_ONLY",
    "SEED",
    "SETTINGS",
    "SNRS_DB",
    "NoisyResult",
    "evaluate_noisy",
    "mix_at_snr",
    "noise_for",
    "noisy_table",
    "noisy_wer",
    "score_with_denoise",
]

SNRS_DB: Final = (0.0, 5.0, 10.0)
SEED: Final = 16
#: mixing rate: the speech sets are 16 kHz; noise is resampled to it
MIX_RATE: Final = 16_000
#: noise-reduction settings compared side by side (None: off)
SETTINGS: Final[tuple[Mode | None, ...]] = (None, "near_field", "far_field")
#: condition name of the noise recordings on their own
NOISE_ONLY: Final = "noise only"
#: the mix's peak is kept below this (both parts scaled together, so the SNR holds)
_PEAK: Final = 0.99


def setting_name(mode: Mode | None) -> str:
    return "off" if mode is None else mode


def _stable_seed(name: str) -> int:
    return SEED * 1_000_003 + zlib.crc32(name.encode())


def speech_power(samples: FloatArray, rate: int, speech: Sequence[tuple[float, float]]) -> float:
    """Mean square over the labelled speech segments (the whole file if it has none)."""
    mask = np.zeros(len(samples), dtype=bool)
    for start, end in speech:
        mask[int(start * rate) : int(end * rate)] = True
    part = samples[mask] if mask.any() else samples
    return float(np.mean(np.square(part, dtype=np.float64))) if len(part) else 0.0


def noise_for(name: str, length: int, noises: Sequence[FloatArray]) -> FloatArray:
    """``length`` samples of noise for the file ``name``: the same every run (seeded by the name)."""
    rng = np.random.default_rng(_stable_seed(name))
    noise = noises[int(rng.integers(len(noises)))]
    reps = -(-(length + len(noise)) // len(noise))
    offset = int(rng.integers(len(noise)))
    return np.tile(noise, reps)[offset : offset + length]


def mix_at_snr(
    speech: FloatArray, noise: FloatArray, snr_db: float, speech_segments: Sequence[tuple[float, float]]
) -> FloatArray:
    """``speech + g * noise`` with ``g`` set for ``snr_db`` (speech power over its segments)."""
    p_speech = speech_power(speech, MIX_RATE, speech_segments)
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    gain = np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0))) if p_noise > 0 else 0.0
    mix = speech.astype(np.float64) + gain * noise
    peak = float(np.max(np.abs(mix))) if len(mix) else 0.0
    if peak > _PEAK:
        mix *= _PEAK / peak
    return mix.astype(np.float32)


def _at_mix_rate(path: Path) -> FloatArray:
    samples, rate = read_mono(path)
    if rate != MIX_RATE:
        samples = np.asarray(soxr.resample(samples, rate, MIX_RATE, quality="HQ"), dtype=np.float32)
    return samples


def score_with_denoise(
    model: SpeechModel,
    audio: bytes,
    fmt: AudioFormat,
    stage: DenoiseStream | None,
    chunk_ms: int = CHUNK_MS,
) -> Scored:
    """As ``runner.score_audio``, through a pipeline with the given denoise stage (or none)."""
    rates = model.supported_rates()
    rate = fmt.sample_rate if fmt.sample_rate in rates else rates[0]
    frame = model.frame_samples(rate)
    frame_length, rest = divmod(frame * fmt.sample_rate, rate)
    if rest:
        raise ValueError(f"{model.name} frames do not map onto {fmt.ga_type} samples")
    pipeline = AudioPipeline(fmt, rate, frame, denoise=stage)
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


@dataclass
class NoisyResult:
    """Pooled results of one noise-reduction setting on one dataset and condition."""

    turns: TurnStats = field(default_factory=TurnStats)
    frames: Counts = field(default_factory=Counts)
    files: int = 0

    def row(self) -> dict[str, float]:
        summary = self.turns.summary()
        return {"frame_f1": self.frames.f1, **summary, "files": self.files}


def _conditions(snrs: Sequence[float]) -> list[str]:
    return [*(f"{snr:g} dB" for snr in snrs), "clean"]


def evaluate_noisy(
    speech_sets: Iterable[Dataset],
    noise_set: Dataset,
    config: TurnDetectionConfig,
    model: SpeechModel,
    denoiser: Denoiser,
    *,
    snrs: Sequence[float] = SNRS_DB,
    settings: Sequence[Mode | None] = SETTINGS,
    chunk_ms: int = CHUNK_MS,
    progress: Callable[[LabelledFile], None] | None = None,
) -> dict[tuple[str, str], dict[str, NoisyResult]]:
    """Results keyed by (dataset or ``"overall"``: the speech sets pooled, condition), then by
    setting name (``off``, ``near_field``, ``far_field``)."""
    fmt = PCM16_24K
    silence_s = config.silence_duration_ms / 1000
    noises = [_at_mix_rate(f.path) for f in noise_set.files]
    if not noises:
        raise ValueError(f"{noise_set.name} holds no noise recordings")
    results: dict[tuple[str, str], dict[str, NoisyResult]] = {}

    def run(dataset: str, condition: str, file: LabelledFile, samples: FloatArray) -> None:
        audio = wire_bytes(samples, MIX_RATE, fmt)
        duration = len(audio) / fmt.bytes_per_sample / fmt.sample_rate
        truth = cells_from_segments(file.speech, n_cells(duration))
        rate = MIX_RATE if MIX_RATE in model.supported_rates() else model.supported_rates()[0]
        # the un-denoised scores: "off", and a denoised session's second opinion (as the Session)
        raw = score_with_denoise(model, audio, fmt, None, chunk_ms)
        for mode in settings:
            if mode is None:
                detected = run_detector(raw, config)
            else:
                stage = DenoiseStream(denoiser, rate, mode)
                detected = run_detector(score_with_denoise(model, audio, fmt, stage, chunk_ms), config, raw)
            keys = [(dataset, condition)] + ([(OVERALL, condition)] if condition != NOISE_ONLY else [])
            for key in keys:
                result = results.setdefault(key, {}).setdefault(setting_name(mode), NoisyResult())
                result.turns.add(detected.turns, file.speech, duration, silence_s)
                result.frames.add(detected.cells(len(truth)), truth)
                result.files += 1

    for dataset in speech_sets:
        for file in dataset.files:
            speech = _at_mix_rate(file.path)
            noise = noise_for(file.path.name, len(speech), noises)
            for snr in snrs:
                run(dataset.name, f"{snr:g} dB", file, mix_at_snr(speech, noise, snr, file.speech))
            run(dataset.name, "clean", file, speech)
            if progress is not None:
                progress(file)
    for file in noise_set.files:
        run(noise_set.name, NOISE_ONLY, file, noises[noise_set.files.index(file)])
        if progress is not None:
            progress(file)
    order = [*_conditions(snrs), NOISE_ONLY]
    return dict(sorted(results.items(), key=lambda kv: (order.index(kv[0][1]), kv[0][0] == OVERALL)))


#: (row key, title, format) of the side-by-side table
_MEASURES: Final = (
    ("turn_f1", "turnF1", "{:.3f}"),
    ("false_starts", "FS", "{:.0f}"),
    ("false_starts_per_min", "FS/min", "{:.2f}"),
    ("missed", "missed", "{:.0f}"),
    ("onset_err_median_ms", "on50ms", "{:.0f}"),
    ("eot_latency_median_ms", "eot50ms", "{:.0f}"),
)


def noisy_table(results: dict[tuple[str, str], dict[str, NoisyResult]], markdown: bool = False) -> str:
    """One row per dataset and condition; each measure shown for every setting, side by side."""
    settings = list(dict.fromkeys(s for systems in results.values() for s in systems))
    head = ["dataset", "condition"] + [f"{title} {s}" for _, title, _ in _MEASURES for s in settings]
    rows = []
    for (dataset, condition), systems in results.items():
        cells = [dataset, condition]
        for key, _, fmt in _MEASURES:
            for s in settings:
                value = systems[s].row()[key] if s in systems else float("nan")
                cells.append("-" if value != value else fmt.format(value))
        rows.append(cells)
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join(
        "  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]
    )


def noisy_wer(
    folder: str | Path,
    noise_set: Dataset,
    transcriber: Any,
    denoiser: Denoiser,
    *,
    snrs: Sequence[float] = SNRS_DB,
    settings: Sequence[Mode | None] = SETTINGS,
    limit_files: int | None = None,
) -> dict[tuple[str, str], float]:
    """Corpus WER of whole-file transcripts of the same mixes, per (condition, setting).

    The audio takes the work-request path: wire bytes -> ``audio.analysis.prepare`` (16 kHz,
    then the denoiser when a setting is on) -> the transcriber."""
    from openapiopenai.asr import TranscriptionOptions
    from openapiopenai.audio.analysis import prepare
    from openapiopenai.denoise import analysis_denoise
    from openapiopenai.evaluation.wer import read_transcripts, word_error_rate

    hook = analysis_denoise(denoiser)
    noises = [_at_mix_rate(f.path) for f in noise_set.files]
    labelled = {f.path.name: f for f in load_dataset(folder).files}
    rows = read_transcripts(folder)[:limit_files] if limit_files else read_transcripts(folder)
    references: list[str] = []
    hypotheses: dict[tuple[str, str], list[str]] = {}
    for path, reference in rows:
        references.append(reference)
        speech = _at_mix_rate(path)
        noise = noise_for(path.name, len(speech), noises)
        file = labelled[path.name]
        mixes = [(f"{snr:g} dB", mix_at_snr(speech, noise, snr, file.speech)) for snr in snrs]
        for condition, samples in [*mixes, ("clean", speech)]:
            wire = wire_bytes(samples, MIX_RATE, PCM16_24K)
            for mode in settings:
                audio = prepare(wire, PCM16_24K, mode, hook)
                text = "".join(p.text for p in transcriber.transcribe(audio, TranscriptionOptions()))
                hypotheses.setdefault((condition, setting_name(mode)), []).append(text)
    return {key: word_error_rate(references, texts)[0] for key, texts in hypotheses.items()}
