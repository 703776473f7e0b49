"""``eval --conditions noisy``: the speech sets mixed with real noise, with and without noise reduction.

Each speech file is mixed with a stretch of a ``nonspeech-dev`` recording (which one, and where
in it, drawn from a generator seeded with ``SEED`` and the file's name, so every run mixes the
same audio) at 0, 5 and 10 dB SNR. The noise runs alone for ``PAD_BEFORE_S`` before the file's
audio and ``PAD_AFTER_S`` after it (one stretch of noise at one gain; the labels shift by
``PAD_BEFORE_S``), so every mixed file has noise-only stretches in which a turn is a false start,
and false starts are measured at each SNR. The SNR is speech power over the file's labelled
speech segments against noise power over the whole stretch of noise: what a listener hears while
someone talks, not diluted by the pauses. The clean condition is the file as recorded (no
padding). The noise recordings are also run on their own, where every turn is a false start.
Each mix then takes the client's path (PCM16 at 24 kHz, 40 ms appends, the session's
``AudioPipeline`` with or without the denoise stage, Silero, the default ``TurnDetector``),
once per noise-reduction setting, and the turn-level measures are pooled per dataset, condition
and setting. As in a denoised session, the un-denoised scores are the detector's second opinion
on each onset (``run_detector(..., confirm=)``). On a folder with ``transcripts.csv``,
``noisy_wer`` transcribes the same mixes turn by turn and whole.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
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
    "PAD_AFTER_S",
    "PAD_BEFORE_S",
    "SEED",
    "SETTINGS",
    "SNRS_DB",
    "NoisyResult",
    "NoisyWer",
    "evaluate_noisy",
    "mix_at_snr",
    "noise_for",
    "noisy_mix",
    "noisy_table",
    "noisy_wer",
    "noisy_wer_table",
    "score_with_denoise",
    "session_transcripts",
]

SNRS_DB: Final = (0.0, 5.0, 10.0)
SEED: Final = 16
#: mixing rate: the speech sets are 16 kHz; noise is resampled to it
MIX_RATE: Final = 16_000
#: noise-reduction settings compared side by side (None: off)
SETTINGS: Final[tuple[Mode | None, ...]] = (None, "near_field", "far_field")
#: condition name of the noise recordings on their own
NOISE_ONLY: Final = "noise only"
#: seconds of noise alone before and after the speech of each mixed file (where every turn is a
#: false start: 6 s a file, 6.0 min over the 60 dev files at each SNR)
PAD_BEFORE_S: Final = 3.0
PAD_AFTER_S: Final = 3.0
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


def _noise_gain(
    speech: FloatArray, noise: FloatArray, snr_db: float, speech_segments: Sequence[tuple[float, float]]
) -> float:
    """The gain ``g`` that puts ``g * noise`` at ``snr_db`` under the speech (its segments' power)."""
    p_speech = speech_power(speech, MIX_RATE, speech_segments)
    p_noise = float(np.mean(np.square(noise, dtype=np.float64))) if len(noise) else 0.0
    return float(np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))) if p_noise > 0 else 0.0


def _guard_peak(mix: npt.NDArray[np.float64]) -> FloatArray:
    peak = float(np.max(np.abs(mix))) if len(mix) else 0.0
    if peak > _PEAK:
        mix *= _PEAK / peak
    return mix.astype(np.float32)


def mix_at_snr(
    speech: FloatArray, noise: FloatArray, snr_db: float, speech_segments: Sequence[tuple[float, float]]
) -> FloatArray:
    """``speech + g * noise`` with ``g`` set for ``snr_db`` (speech power over its segments)."""
    gain = _noise_gain(speech, noise, snr_db, speech_segments)
    return _guard_peak(speech.astype(np.float64) + gain * noise)


def noisy_mix(
    name: str,
    speech: FloatArray,
    speech_segments: Sequence[tuple[float, float]],
    noises: Sequence[FloatArray],
    snr_db: float,
) -> tuple[FloatArray, list[tuple[float, float]]]:
    """The noisy condition's file: ``PAD_BEFORE_S`` of noise, the speech in the same noise at
    ``snr_db``, ``PAD_AFTER_S`` of noise (one stretch of ``name``'s noise, one gain), and the
    labels on its timeline (shifted by the noise before)."""
    before, after = round(PAD_BEFORE_S * MIX_RATE), round(PAD_AFTER_S * MIX_RATE)
    noise = noise_for(name, before + len(speech) + after, noises)
    gain = _noise_gain(speech, noise, snr_db, speech_segments)
    padded = np.concatenate((np.zeros(before), speech.astype(np.float64), np.zeros(after)))
    shift = before / MIX_RATE
    return _guard_peak(padded + gain * noise), [(a + shift, b + shift) for a, b in speech_segments]


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

    def run(dataset: str, condition: str, samples: FloatArray, speech: Sequence[tuple[float, float]]) -> None:
        audio = wire_bytes(samples, MIX_RATE, fmt)
        duration = len(audio) / fmt.bytes_per_sample / fmt.sample_rate
        truth = cells_from_segments(speech, n_cells(duration))
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
                result.turns.add(detected.turns, speech, duration, silence_s)
                result.frames.add(detected.cells(len(truth)), truth)
                result.files += 1

    for dataset in speech_sets:
        for file in dataset.files:
            speech = _at_mix_rate(file.path)
            for snr in snrs:
                mix, labels = noisy_mix(file.path.name, speech, file.speech, noises, snr)
                run(dataset.name, f"{snr:g} dB", mix, labels)
            run(dataset.name, "clean", speech, file.speech)
            if progress is not None:
                progress(file)
    for file in noise_set.files:
        run(noise_set.name, NOISE_ONLY, noises[noise_set.files.index(file)], file.speech)
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


@dataclass
class NoisyWer:
    """Transcripts of one noise-reduction setting in one condition, file by file: what a client
    receives turn by turn, and the same model on the whole file."""

    references: list[str] = field(default_factory=list)
    turn_texts: list[str] = field(default_factory=list)
    whole_texts: list[str] = field(default_factory=list)
    turns: int = 0

    def row(self) -> dict[str, float]:
        from openapiopenai.evaluation.wer import word_error_rate

        turn, turn_errors, words = word_error_rate(self.references, self.turn_texts)
        whole, whole_errors, _ = word_error_rate(self.references, self.whole_texts)
        return {
            "files": len(self.references),
            "turns": self.turns,
            "reference_words": words,
            "wer_turn_by_turn": round(100 * turn, 2),
            "wer_whole_file": round(100 * whole, 2),
            "errors_turn_by_turn": turn_errors,
            "errors_whole_file": whole_errors,
        }


def session_transcripts(
    model: SpeechModel,
    audio: bytes,
    mode: Mode | None,
    denoiser: Denoiser,
    transcriber: Any,
    config: TurnDetectionConfig,
    chunk_ms: int = CHUNK_MS,
) -> list[str]:
    """The transcript of each turn a session commits (PCM16 24 kHz in ``chunk_ms`` appends), with
    ``noise_reduction`` set to ``mode``: the session's own pipeline, second opinion and work
    requests, each committed item transcribed as the server's pool does (``analysis_audio`` with
    the denoise hook, the recent transcripts as context)."""
    import json

    from openapiopenai.asr import TranscriptionOptions, recent_context
    from openapiopenai.audio.analysis import analysis_audio
    from openapiopenai.denoise import analysis_denoise, stream_factory
    from openapiopenai.protocol.config import Features
    from openapiopenai.protocol.ids import IdFactory
    from openapiopenai.protocol.session import Session, SessionLimits
    from openapiopenai.protocol.work import TranscriptionRequest

    hook = analysis_denoise(denoiser)
    session = Session(
        model,
        ids=IdFactory(seed=0),
        turn_detection=config,
        limits=SessionLimits(
            max_buffer_bytes=2**62, max_retained_audio_bytes=0, max_pending_transcriptions=2**31
        ),
        features=Features(transcription=True, noise_reduction=True),
        denoiser=stream_factory(denoiser),
    )
    session.start()
    audio_input: dict[str, object] = {
        "transcription": {"model": str(getattr(transcriber, "name", "whisper-1"))},
        "noise_reduction": None if mode is None else {"type": mode},
    }
    session.receive_text(
        json.dumps(
            {"type": "session.update", "session": {"type": "realtime", "audio": {"input": audio_input}}}
        )
    )
    texts: list[str] = []

    def work() -> None:
        while requests := session.work_to_do():
            for request in requests:
                if not isinstance(request, TranscriptionRequest):  # pragma: no cover - server_vad only
                    session.receive_turn_end(request.query, None)
                    continue
                options = TranscriptionOptions(request.language, request.prompt, False, recent_context(texts))
                pieces = transcriber.transcribe(analysis_audio(request.audio, hook), options)
                texts.append("".join(p.text for p in pieces))
                session.receive_transcript_delta(request.item_id, texts[-1], None)
                session.receive_transcript_done(request.item_id)

    step = max(1, chunk_ms * PCM16_24K.bytes_per_ms)
    for i in range(0, len(audio), step):
        session.receive_audio(audio[i : i + step])
        while (request := session.frames_to_score()) is not None:
            session.receive_scores(score_stream(model, request.frames, request.state, request.sample_rate))
            work()
        work()
        session.drain_events()
    session.finish_turn()
    work()
    session.drain_events()
    return texts


def noisy_wer(
    folder: str | Path,
    noise_set: Dataset,
    transcriber: Any,
    denoiser: Denoiser,
    *,
    model: SpeechModel | None = None,
    config: TurnDetectionConfig | None = None,
    snrs: Sequence[float] = SNRS_DB,
    settings: Sequence[Mode | None] = SETTINGS,
    limit_files: int | None = None,
    chunk_ms: int = CHUNK_MS,
    progress: Callable[[str], object] | None = None,
) -> dict[tuple[str, str], NoisyWer]:
    """Turn-by-turn and whole-file transcripts of the noisy condition's mixes (``noisy_mix``: the
    same audio as the turn measures) and of the clean files, per (condition, setting).

    Turn by turn: a session with ``noise_reduction`` set streams the mix and each committed turn is
    transcribed (``session_transcripts``). Whole file: the wire bytes take the work-request prep
    path (``audio.analysis.prepare``: 16 kHz, then the denoiser when a setting is on) in one call."""
    from openapiopenai.asr import TranscriptionOptions
    from openapiopenai.audio.analysis import prepare
    from openapiopenai.denoise import analysis_denoise
    from openapiopenai.evaluation.wer import read_transcripts
    from openapiopenai.vad.registry import load_model

    speech_model = model if model is not None else load_model()
    turn_config = config or TurnDetectionConfig()
    hook = analysis_denoise(denoiser)
    noises = [_at_mix_rate(f.path) for f in noise_set.files]
    labelled = {f.path.name: f for f in load_dataset(folder).files}
    rows = read_transcripts(folder)[:limit_files] if limit_files else read_transcripts(folder)
    results: dict[tuple[str, str], NoisyWer] = {}
    for path, reference in rows:
        speech = _at_mix_rate(path)
        file = labelled[path.name]
        mixes = [(f"{snr:g} dB", noisy_mix(path.name, speech, file.speech, noises, snr)[0]) for snr in snrs]
        for condition, samples in [*mixes, ("clean", speech)]:
            wire = wire_bytes(samples, MIX_RATE, PCM16_24K)
            for mode in settings:
                whole = prepare(wire, PCM16_24K, mode, hook)
                text = "".join(p.text for p in transcriber.transcribe(whole, TranscriptionOptions()))
                turns = session_transcripts(
                    speech_model, wire, mode, denoiser, transcriber, turn_config, chunk_ms
                )
                result = results.setdefault((condition, setting_name(mode)), NoisyWer())
                result.references.append(reference)
                result.whole_texts.append(text)
                result.turn_texts.append(" ".join(t.strip() for t in turns if t.strip()))
                result.turns += len(turns)
        if progress is not None:
            progress(path.name)
    return results


def noisy_wer_table(results: dict[tuple[str, str], NoisyWer], markdown: bool = False) -> str:
    """One row per condition: turn-by-turn and whole-file WER (%) of every setting side by side."""
    settings = list(dict.fromkeys(s for _, s in results))
    conditions = list(dict.fromkeys(c for c, _ in results))
    head = ["condition"] + [f"{kind} {s}" for kind in ("turns", "whole") for s in settings]
    rows = []
    for condition in conditions:
        cells = [condition]
        for key in ("wer_turn_by_turn", "wer_whole_file"):
            for s in settings:
                r = results.get((condition, s))
                cells.append("-" if r is None else f"{r.row()[key]:.2f}")
        rows.append(cells)
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows])
