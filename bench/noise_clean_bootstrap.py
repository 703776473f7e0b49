"""Does noise reduction cost clean speech anything measurable? A paired bootstrap over files.

The clean condition of ``eval --conditions noisy`` (each file as recorded, the same path:
``score_with_denoise`` and ``run_detector`` with the un-denoised scores as the second opinion),
scored file by file for off, near_field and far_field. Files are resampled with replacement
within each set (the same draw for off and the setting); each draw gives the mean over the sets
of the pooled turn-span F1, and the difference setting - off. Prints the point difference, its
95 % interval and how many files got worse or better (docs/noise-reduction.md).

    OPENAPIOPENAI_SHARED_DATA=../shared/data python bench/noise_clean_bootstrap.py [--draws 10000]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from openapiopenai.audio.formats import PCM16_24K
from openapiopenai.denoise import DenoiseStream, load_denoiser
from openapiopenai.evaluation.datasets import load_dataset, read_mono
from openapiopenai.evaluation.metrics import TurnStats
from openapiopenai.evaluation.noisy import MIX_RATE, SETTINGS, score_with_denoise, setting_name
from openapiopenai.evaluation.runner import run_detector, wire_bytes
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import load_model

SETS = ("librispeech-dev", "ten-vad-testset", "pyannote-ami-debug")
DATA = Path(
    os.environ.get("OPENAPIOPENAI_SHARED_DATA")
    or Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
)

#: per set, per setting: one row (tp, fp, fn) of turn-span cells per file
Spans = dict[str, dict[str, npt.NDArray[np.float64]]]


def per_file_spans(limit_files: int | None) -> Spans:
    import soxr

    model, denoiser, config = load_model(), load_denoiser(), TurnDetectionConfig()
    silence_s = config.silence_duration_ms / 1000
    out: Spans = {}
    for name in SETS:
        rows: dict[str, list[tuple[int, int, int]]] = {setting_name(m): [] for m in SETTINGS}
        for file in load_dataset(DATA / name, limit_files).files:
            samples, rate = read_mono(file.path)
            if rate != MIX_RATE:
                samples = np.asarray(soxr.resample(samples, rate, MIX_RATE, quality="HQ"), dtype=np.float32)
            audio = wire_bytes(samples, MIX_RATE, PCM16_24K)
            duration = len(audio) / PCM16_24K.bytes_per_sample / PCM16_24K.sample_rate
            raw = score_with_denoise(model, audio, PCM16_24K, None)
            for mode in SETTINGS:
                if mode is None:
                    detected = run_detector(raw, config)
                else:
                    stage = DenoiseStream(denoiser, MIX_RATE, mode)
                    detected = run_detector(score_with_denoise(model, audio, PCM16_24K, stage), config, raw)
                stats = TurnStats()
                stats.add(detected.turns, file.speech, duration, silence_s)
                rows[setting_name(mode)].append((stats.spans.tp, stats.spans.fp, stats.spans.fn))
        out[name] = {s: np.asarray(r, dtype=np.float64) for s, r in rows.items()}
        print(f"{name}: {len(rows['off'])} files", flush=True)
    return out


def f1(counts: npt.NDArray[np.float64]) -> float:
    tp, fp, fn = counts.sum(axis=0)
    return float(2 * tp / (2 * tp + fp + fn)) if tp else 0.0


def mean_f1(spans: Spans, setting: str, draw: dict[str, npt.NDArray[np.int64]]) -> float:
    return float(np.mean([f1(spans[name][setting][draw[name]]) for name in spans]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit-files", type=int, default=None)
    args = parser.parse_args()
    spans = per_file_spans(args.limit_files)
    every = {name: np.arange(len(spans[name]["off"])) for name in spans}
    for setting in ("off", "near_field", "far_field"):
        per_set = ", ".join(f"{name} {f1(spans[name][setting]):.3f}" for name in spans)
        print(f"{setting}: mean turn-span F1 {mean_f1(spans, setting, every):.4f} ({per_set})")
    rng = np.random.default_rng(args.seed)
    for setting in ("near_field", "far_field"):
        diffs = np.empty(args.draws)
        for i in range(args.draws):
            draw = {name: rng.integers(0, len(idx), len(idx)) for name, idx in every.items()}
            diffs[i] = mean_f1(spans, setting, draw) - mean_f1(spans, "off", draw)
        point = mean_f1(spans, setting, every) - mean_f1(spans, "off", every)
        files = [
            f1(spans[name][setting][i : i + 1]) - f1(spans[name]["off"][i : i + 1])
            for name in spans
            for i in range(len(spans[name]["off"]))
        ]
        worse = sum(d < -0.0005 for d in files)
        better = sum(d > 0.0005 for d in files)
        low, high = np.percentile(diffs, [2.5, 97.5])
        print(
            f"{setting} - off: {point:+.4f}, 95 % interval [{low:+.4f}, {high:+.4f}], below 0 in "
            f"{np.mean(diffs < 0):.0%} of {args.draws} draws; files worse {worse}, better {better}, "
            f"within 0.0005 {len(files) - worse - better}"
        )


if __name__ == "__main__":
    main()
