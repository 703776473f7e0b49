"""Turn taking: does the detector cut a speaker off mid-thought, and how long does it wait at the end?

Built from one-sentence files (LibriSpeech: ``speech_segments.csv`` gives the first and last
speech of each file). In each sentence we find the short natural gaps between words (runs of
Silero non-speech frames at least ``MIN_GAP_MS`` long, more than 1 s from either end) and, with a
fixed seed, stretch up to ``PAUSES_PER_FILE`` of them into pauses of 0.5-1.5 s, filled with noise
at the file's background level. The thought is unfinished there, so a turn that ends inside an
inserted pause is a *cut-off*. After the sentence comes 10 s of the same background, and the
*end-of-turn latency* is how long after the last speech (``end_s``) the detector decided the turn
was over (``SpeechStopped.audio_end``).

Both rules run on the same Silero probabilities (16 kHz, 32 ms frames) through the core state
machines; semantic_vad's questions are answered at once by the real Smart Turn model, as the
offline driver does.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from openapiopenai.turns.config import (
    EAGERNESS_MAX_WAIT_MS,
    Eagerness,
    SemanticVadConfig,
    TurnDetectionConfig,
)
from openapiopenai.turns.detector import SpeechStopped, TurnDetector
from openapiopenai.turns.semantic import SemanticTurnDetector, TurnEndQuery
from openapiopenai.vad.silero import SileroModel

__all__ = ["TurnTakingCase", "TurnTakingResult", "build_cases", "evaluate_turn_taking", "table"]

RATE: Final = 16_000
FRAME: Final = 512
MIN_GAP_MS: Final = 64
PAUSES_PER_FILE: Final = 2
PAUSE_RANGE_S: Final = (0.5, 1.5)
TAIL_S: Final = 10.0
EDGE_S: Final = 1.0
SEED: Final = 11
SERVER_SILENCES_MS: Final = (200, 500, 800, 1200)
EAGERNESSES: Final[tuple[Eagerness, ...]] = ("high", "auto", "low")

FloatArray = npt.NDArray[np.float32]
Predict = Callable[[FloatArray], float | None]


@dataclass(frozen=True, slots=True)
class TurnTakingCase:
    """One sentence with inserted pauses; positions in samples at 16 kHz."""

    name: str
    audio: FloatArray
    pauses: tuple[tuple[int, int], ...]
    end: int


@dataclass(slots=True)
class TurnTakingResult:
    """One detector setting over all cases."""

    detector: str
    setting: str
    pauses: int = 0
    cut_offs: int = 0
    #: stops inside the sentence but not in an inserted pause (at its natural gaps)
    other_stops: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    questions: int = 0
    #: pauses the model was asked about (at least once)
    asked_pauses: int = 0

    @property
    def cut_off_rate(self) -> float:
        return self.cut_offs / self.pauses if self.pauses else 0.0

    def latency(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def row(self) -> dict[str, object]:
        return {
            "detector": self.detector,
            "setting": self.setting,
            "inserted_pauses": self.pauses,
            "cut_off_rate": round(self.cut_off_rate, 3),
            "other_stops": self.other_stops,
            "eot_latency_p50_ms": round(self.latency(50)),
            "eot_latency_p90_ms": round(self.latency(90)),
            "ends": len(self.latencies_ms),
            "model_questions": self.questions,
            "questions_per_pause": round(self.questions / self.asked_pauses, 2) if self.asked_pauses else 0.0,
        }


def silero_probabilities(audio: FloatArray) -> FloatArray:
    """Silero's speech probability per 32 ms frame of 16 kHz ``audio`` (last partial frame dropped)."""
    from openapiopenai.vad.base import score_stream

    model = _MODELS.get("silero")
    if model is None:
        model = _MODELS["silero"] = SileroModel()
    n = len(audio) // FRAME
    frames = np.ascontiguousarray(audio[: n * FRAME].reshape(n, FRAME))
    return score_stream(model, frames, model.new_state(RATE), RATE)


_MODELS: dict[str, SileroModel] = {}


def word_gaps(probs: Iterable[float], start: int, end: int) -> list[tuple[int, int]]:
    """Runs of non-speech frames (``[first, last)`` samples) at least ``MIN_GAP_MS`` long, more
    than ``EDGE_S`` from ``start`` and ``end`` (samples)."""
    min_frames = -(-MIN_GAP_MS * RATE // 1000 // FRAME)
    edge = int(EDGE_S * RATE)
    gaps: list[tuple[int, int]] = []
    run_start: int | None = None
    for i, p in enumerate([*probs, 1.0]):
        if p < 0.5:
            run_start = i if run_start is None else run_start
            continue
        if run_start is not None and i - run_start >= min_frames:
            a, b = run_start * FRAME, i * FRAME
            if a > start + edge and b < end - edge:
                gaps.append((a, b))
        run_start = None
    return gaps


def background_level(audio: FloatArray) -> float:
    """The file's background: the 10th percentile of its 32 ms frames' RMS."""
    n = len(audio) // FRAME
    rms = np.sqrt(np.mean(np.square(audio[: n * FRAME].reshape(n, FRAME), dtype=np.float64), axis=1))
    return float(np.percentile(rms, 10))


def build_case(
    name: str, audio: FloatArray, start_s: float, end_s: float, rng: np.random.Generator
) -> TurnTakingCase:
    """Stretch up to ``PAUSES_PER_FILE`` of the sentence's word gaps into 0.5-1.5 s pauses."""
    end = round(end_s * RATE)
    gaps = word_gaps(silero_probabilities(audio), round(start_s * RATE), end)
    count = min(PAUSES_PER_FILE, len(gaps))
    chosen = sorted(rng.choice(len(gaps), size=count, replace=False)) if gaps else []
    level = background_level(audio)
    pieces: list[FloatArray] = []
    pauses: list[tuple[int, int]] = []
    cursor = 0
    inserted = 0
    for index in chosen:
        a, b = gaps[int(index)]
        middle = (a + b) // 2
        length = int(rng.uniform(*PAUSE_RANGE_S) * RATE)
        pieces.append(audio[cursor:middle])
        at = middle + inserted
        pieces.append((rng.standard_normal(length) * level).astype(np.float32))
        pauses.append((at - (middle - a), at + length + (b - middle)))  # the whole silence
        inserted += length
        cursor = middle
    pieces.append(audio[cursor:end])
    pieces.append((rng.standard_normal(int(TAIL_S * RATE)) * level).astype(np.float32))
    return TurnTakingCase(name, np.concatenate(pieces), tuple(pauses), end + inserted)


def build_cases(folder: str | Path, limit_files: int | None = None, seed: int = SEED) -> list[TurnTakingCase]:
    """All files of a one-sentence-per-file folder (``speech_segments.csv``), fixed seed."""
    from openapiopenai.evaluation.datasets import read_mono
    from openapiopenai.offline import read_audio

    root = Path(folder)
    with (root / "speech_segments.csv").open(newline="") as fh:
        rows = [(r["file"], float(r["start_s"]), float(r["end_s"])) for r in csv.DictReader(fh)]
    rng = np.random.default_rng(seed)
    cases = []
    for name, start_s, end_s in rows[:limit_files]:
        audio, rate = read_mono(root / name)
        if rate != RATE:
            audio = read_audio(root / name, RATE)
        cases.append(build_case(name, audio, start_s, end_s, rng))
    return cases


def _score(result: TurnTakingResult, case: TurnTakingCase, stops: Iterable[SpeechStopped]) -> None:
    result.pauses += len(case.pauses)
    cut = set()
    final: float | None = None
    for stop in stops:
        hit = [i for i, (a, b) in enumerate(case.pauses) if a <= stop.audio_end <= b + FRAME]
        if hit:
            cut.update(hit)
        elif stop.audio_end < case.end:
            result.other_stops += 1
        elif final is None:
            final = (stop.audio_end - case.end) * 1000 / RATE
    result.cut_offs += len(cut)
    if final is not None:
        result.latencies_ms.append(final)


def run_server_vad(probs: Iterable[float], config: TurnDetectionConfig) -> list[SpeechStopped]:
    detector = TurnDetector(config, sample_rate=RATE, frame_length=FRAME)
    return [e for p in probs for e in detector.push(float(p)) if isinstance(e, SpeechStopped)]


def run_semantic(
    probs: Iterable[float], config: SemanticVadConfig, answer: Callable[[int, int], float | None]
) -> tuple[list[SpeechStopped], int, int]:
    """Stops, questions and pauses asked about; each question answered at once (the offline driver)."""
    detector = SemanticTurnDetector(config, sample_rate=RATE, frame_length=FRAME)
    stops: list[SpeechStopped] = []
    questions = pauses = 0
    in_pause = False
    for p in probs:
        events = list(detector.push(float(p)))
        in_pause = in_pause and not detector.frame_speech
        while events:
            event = events.pop(0)
            if isinstance(event, TurnEndQuery):
                questions += 1
                pauses += not in_pause
                in_pause = True
                start = max(event.start, event.end - 8 * RATE)
                events.extend(detector.answer(event.query, answer(start, event.end)))
            elif isinstance(event, SpeechStopped):
                stops.append(event)
    return stops, questions, pauses


class _Answers:
    """The model's answers for one case, each (start, end) computed once across settings."""

    def __init__(self, audio: FloatArray, predict: Predict | None) -> None:
        self.audio = audio
        self.predict = predict
        self.cache: dict[tuple[int, int], float | None] = {}

    def __call__(self, start: int, end: int) -> float | None:
        if (start, end) not in self.cache:
            predict = self.predict
            self.cache[start, end] = None if predict is None else predict(self.audio[start:end])
        return self.cache[start, end]


def evaluate_turn_taking(
    cases: Sequence[TurnTakingCase],
    predict: Predict | None,
    *,
    silences_ms: Sequence[int] = SERVER_SILENCES_MS,
    eagernesses: Sequence[Eagerness] = EAGERNESSES,
    progress: Callable[[object], None] | None = None,
) -> list[TurnTakingResult]:
    """server_vad at each silence window and, if ``predict`` is given, semantic_vad at each eagerness."""
    server = {ms: TurnTakingResult("server_vad", f"silence_duration_ms={ms}") for ms in silences_ms}
    semantic = {
        e: TurnTakingResult(
            "semantic_vad",
            f"eagerness={e}{' (= medium)' if e == 'auto' else ''} (max wait {EAGERNESS_MAX_WAIT_MS[e]} ms)",
        )
        for e in (eagernesses if predict is not None else ())
    }
    for case in cases:
        probs = silero_probabilities(case.audio)
        for ms, result in server.items():
            _score(result, case, run_server_vad(probs, TurnDetectionConfig(silence_duration_ms=ms)))
        answers = _Answers(case.audio, predict)
        for eagerness, result in semantic.items():
            stops, questions, pauses = run_semantic(probs, SemanticVadConfig(eagerness=eagerness), answers)
            _score(result, case, stops)
            result.questions += questions
            result.asked_pauses += pauses
        if progress is not None:
            progress(case)
    return [*server.values(), *semantic.values()]


def table(results: Sequence[TurnTakingResult]) -> str:
    """A Markdown table: cut-off rate at inserted pauses against end-of-turn latency."""
    lines = [
        "| detector | setting | cut-offs at inserted pauses | other stops mid-sentence "
        "| EOT latency p50 | EOT latency p90 | model questions (per pause) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.detector} | {r.setting} | {r.cut_offs}/{r.pauses} ({r.cut_off_rate:.0%}) "
            f"| {r.other_stops} | {r.latency(50):.0f} ms | {r.latency(90):.0f} ms "
            f"| {r.questions} ({r.questions / r.asked_pauses if r.asked_pauses else 0:.1f}) |"
        )
    return "\n".join(lines)


def main(folders: Sequence[str], limit_files: int | None = None, *, as_json: bool = False) -> int:
    """``openapiopenai eval --turn-taking DIR...``: the table, or JSON rows."""
    import json
    import sys

    from openapiopenai.exceptions import ModelLoadError
    from openapiopenai.vad.smart_turn import SmartTurnModel

    predict: Predict | None
    try:
        predict = SmartTurnModel().predict
    except ModelLoadError as exc:
        print(f"openapiopenai eval: semantic_vad rows skipped: {exc}", file=sys.stderr)
        predict = None
    try:
        cases = [case for folder in folders for case in build_cases(folder, limit_files)]
    except (FileNotFoundError, KeyError) as exc:
        print(f"openapiopenai eval: {exc}", file=sys.stderr)
        return 2
    results = evaluate_turn_taking(cases, predict)
    if as_json:
        print(json.dumps([r.row() for r in results], indent=2))
    else:
        print(f"{len(cases)} sentences, {sum(len(c.pauses) for c in cases)} inserted pauses (seed {SEED})")
        print(table(results))
    return 0
