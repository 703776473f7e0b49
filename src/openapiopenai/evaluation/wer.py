"""Word error rate of the transcripts: turn by turn (as the server produces them) vs whole file.

For every file of a folder with ``transcripts.csv`` (``file,text``), the audio is streamed as a
client would send it (PCM16 at 24 kHz) through the offline :class:`~openapiopenai.Detector`
with a transcriber: each turn the VAD commits is transcribed on its own and the turns' texts
are joined. The same model also transcribes the whole file in one call, from the same wire
audio. Both are scored against the reference; a turn cut that loses words (a clipped onset, a
tail cut off) shows up as the difference.

Normalisation is Whisper's English normaliser (``whisper-normalizer``, the one OpenAI's
Whisper paper scores with): lower case, punctuation and filler words removed, spelled-out
numbers turned into digits on both sides ("eighteen o three" = "1803"), British spellings and
contractions standardised ("mister" = "mr", "there's" = "there is"). WER is corpus-level
(total errors / total reference words), computed by ``jiwer``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import soxr

from openapiopenai.audio.analysis import prepare
from openapiopenai.audio.formats import PCM16_24K, encode
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import AUTO

__all__ = ["TRANSCRIPTS", "FileWer", "WerResult", "has_transcripts", "normalize", "wer", "word_error_rate"]

TRANSCRIPTS = "transcripts.csv"


def has_transcripts(folder: str | Path) -> bool:
    return (Path(folder) / TRANSCRIPTS).is_file()


def normalize(text: str) -> str:
    """Whisper's English text normaliser (see the module doc)."""
    return str(_normalizer()(text))


@cache
def _normalizer() -> Any:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def word_error_rate(references: list[str], hypotheses: list[str]) -> tuple[float, int, int]:
    """Corpus WER of normalised texts, the errors and the reference words it is made of."""
    import jiwer

    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    pairs = [(r, h) for r, h in zip(refs, hyps, strict=True) if r.strip()]
    if not pairs:
        return 0.0, 0, 0
    out = jiwer.process_words([r for r, _ in pairs], [h for _, h in pairs])
    errors = out.substitutions + out.deletions + out.insertions
    words = out.substitutions + out.deletions + out.hits
    return errors / words, errors, words


def wer(references: list[str], hypotheses: list[str]) -> float:
    return word_error_rate(references, hypotheses)[0]


@dataclass(frozen=True, slots=True)
class FileWer:
    file: str
    reference: str
    turns: list[str]
    whole: str
    duration_s: float

    @property
    def turn_text(self) -> str:
        return " ".join(t.strip() for t in self.turns if t.strip())


@dataclass(frozen=True, slots=True)
class WerResult:
    folder: str
    model: str
    files: list[FileWer]

    @property
    def turn_by_turn(self) -> tuple[float, int, int]:
        return word_error_rate([f.reference for f in self.files], [f.turn_text for f in self.files])

    @property
    def whole_file(self) -> tuple[float, int, int]:
        return word_error_rate([f.reference for f in self.files], [f.whole for f in self.files])

    def row(self) -> dict[str, Any]:
        turn, turn_errors, words = self.turn_by_turn
        whole, whole_errors, _ = self.whole_file
        return {
            "dataset": self.folder,
            "model": self.model,
            "files": len(self.files),
            "audio_s": round(sum(f.duration_s for f in self.files), 1),
            "turns": sum(len(f.turns) for f in self.files),
            "reference_words": words,
            "wer_turn_by_turn": round(100 * turn, 2),
            "wer_whole_file": round(100 * whole, 2),
            "errors_turn_by_turn": turn_errors,
            "errors_whole_file": whole_errors,
        }


def read_transcripts(folder: str | Path) -> list[tuple[Path, str]]:
    root = Path(folder)
    with (root / TRANSCRIPTS).open(newline="") as fh:
        return [(root / row["file"], row["text"]) for row in csv.DictReader(fh)]


def evaluate_folder(
    folder: str | Path,
    transcriber: Any,
    config: TurnDetectionConfig | None = None,
    *,
    backend: str = AUTO,
    limit_files: int | None = None,
    progress: Callable[[str], object] | None = None,
) -> WerResult:
    """Turn-by-turn and whole-file transcripts of every file in ``transcripts.csv``."""
    from openapiopenai.asr import TranscriptionOptions
    from openapiopenai.evaluation.datasets import read_mono
    from openapiopenai.offline import DEFAULT_CHUNK_MS, Detector, chunked

    files: list[FileWer] = []
    rows = read_transcripts(folder)[:limit_files] if limit_files else read_transcripts(folder)
    for path, reference in rows:
        samples, rate = read_mono(path)
        wire = encode(PCM16_24K, soxr.resample(samples, rate, PCM16_24K.sample_rate))
        detector = Detector(config, model=backend, transcriber=transcriber)
        for piece in chunked(wire, DEFAULT_CHUNK_MS * PCM16_24K.bytes_per_ms):
            detector.feed(piece)
        detector.flush()
        whole = "".join(
            p.text for p in transcriber.transcribe(prepare(wire, PCM16_24K), TranscriptionOptions())
        )
        turns = list(detector.transcripts.values())
        files.append(FileWer(path.name, reference, turns, whole, len(samples) / rate))
        if progress is not None:
            progress(path.name)
    return WerResult(Path(folder).name, str(getattr(transcriber, "name", "?")), files)


def table(results: list[WerResult]) -> str:
    lines = [
        "| dataset | model | files | audio s | turns | ref words | WER turn-by-turn % | WER whole-file % |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        r = result.row()
        lines.append(
            f"| {r['dataset']} | {r['model']} | {r['files']} | {r['audio_s']} | {r['turns']} | "
            f"{r['reference_words']} | {r['wer_turn_by_turn']:.2f} | {r['wer_whole_file']:.2f} |"
        )
    return "\n".join(lines)
