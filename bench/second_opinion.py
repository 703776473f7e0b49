"""Study: false starts that noise reduction adds, and the second opinion that removes them (issue 16).

    python bench/second_opinion.py [--limit-files N] [--where]

Scores every stream of ``eval --conditions noisy`` once (the speech sets mixed with
``nonspeech-dev`` at 0/5/10 dB and clean, and the noise recordings alone; un-denoised,
near_field, far_field), then replays the recorded scores under each onset rule:

* ``alone``: the denoised scores alone (before the second opinion);
* ``agree>=X``: a turn starts only once the un-denoised score has reached ``X`` at some frame of
  the pending run, and a turn under way continues while either score hears speech (``exit`` =
  the detector's exit threshold: what runs). Other levels than the
  exit threshold are replayed by shifting the second opinion by ``exit - X``, so the detector's
  own rule does the work.

It prints, per rule and setting, the false starts on the noise recordings and the mean turn F1
of the three speech sets per condition. ``--where`` also lists every false start on the noise
recordings (file and onset) for the denoised scores alone and under the exit-threshold rule.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from openapiopenai.audio.formats import PCM16_24K
from openapiopenai.denoise import DenoiseStream, Mode, load_denoiser
from openapiopenai.evaluation.datasets import load_dataset
from openapiopenai.evaluation.metrics import Turn, TurnStats
from openapiopenai.evaluation.noisy import (
    MIX_RATE,
    SNRS_DB,
    _at_mix_rate,
    mix_at_snr,
    noise_for,
    score_with_denoise,
)
from openapiopenai.evaluation.runner import Scored, run_detector, wire_bytes
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import load_model

DATA = "../shared/data/"
SPEECH = ("librispeech-dev", "ten-vad-testset", "pyannote-ami-debug")
NOISE = "nonspeech-dev"
MODES: tuple[Mode, ...] = ("near_field", "far_field")
CONDITIONS = (*(f"{s:g} dB" for s in SNRS_DB), "clean")
#: onset rules: None = denoised scores alone; a number = the level the second opinion must reach
RULES: dict[str, float | None] = {
    "alone": None,
    "agree>=0.15": 0.15,
    "agree>=0.25": 0.25,
    "agree>=exit": -1.0,
}


def shifted(raw: Scored, by: float) -> Scored:
    """The second opinion moved by ``by`` (``raw >= X`` becomes ``shifted >= exit``)."""
    return Scored(
        probabilities=np.asarray(raw.probabilities + by, dtype=np.float32),
        levels_dbfs=raw.levels_dbfs,
        frame_length=raw.frame_length,
        sample_rate=raw.sample_rate,
        total_samples=raw.total_samples,
    )


def turns(cleaned: Scored, raw: Scored, config: TurnDetectionConfig, level: float | None) -> list[Turn]:
    if level is None:
        return run_detector(cleaned, config).turns
    exit_ = config.effective_exit_threshold
    confirm = raw if level < 0 else shifted(raw, exit_ - level)
    return run_detector(cleaned, config, confirm).turns


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit-files", type=int, default=None, help="files per speech set")
    parser.add_argument("--where", action="store_true", help="list the false starts on the noise recordings")
    args = parser.parse_args(argv)
    config = TurnDetectionConfig()
    model, denoiser = load_model("auto"), load_denoiser("rnnoise")
    noise_set = load_dataset(DATA + NOISE)
    noises = [_at_mix_rate(f.path) for f in noise_set.files]

    def score(samples: np.ndarray) -> dict[str | None, Scored]:
        audio = wire_bytes(samples, MIX_RATE, PCM16_24K)
        out: dict[str | None, Scored] = {None: score_with_denoise(model, audio, PCM16_24K, None)}
        for mode in MODES:
            stage = DenoiseStream(denoiser, MIX_RATE, mode)
            out[mode] = score_with_denoise(model, audio, PCM16_24K, stage)
        return out

    speech: list[tuple[str, str, tuple[tuple[float, float], ...], dict[str | None, Scored]]] = []
    for name in SPEECH:
        for file in load_dataset(DATA + name, args.limit_files).files:
            clean = _at_mix_rate(file.path)
            noise = noise_for(file.path.name, len(clean), noises)
            for snr, condition in zip(SNRS_DB, CONDITIONS, strict=False):
                speech.append(
                    (name, condition, file.speech, score(mix_at_snr(clean, noise, snr, file.speech)))
                )
            speech.append((name, "clean", file.speech, score(clean)))
    alone = [(f.path.name, score(samples)) for f, samples in zip(noise_set.files, noises, strict=True)]

    def f1_row(mode: str | None, level: float | None) -> str:
        stats: dict[tuple[str, str], TurnStats] = {}
        for name, condition, labels, scored in speech:
            got = (
                turns(scored[mode], scored[None], config, level)
                if mode
                else run_detector(scored[None], config).turns
            )
            duration = scored[None].total_samples / scored[None].sample_rate
            stats.setdefault((name, condition), TurnStats()).add(
                got, labels, duration, config.silence_duration_ms / 1000
            )
        means = [np.mean([stats[(n, c)].summary()["turn_f1"] for n in SPEECH]) for c in CONDITIONS]
        return "  ".join(f"{m:.3f}" for m in means)

    def false_starts(mode: str | None, level: float | None) -> list[tuple[str, float]]:
        found = []
        for name, scored in alone:
            got = (
                turns(scored[mode], scored[None], config, level)
                if mode
                else run_detector(scored[None], config).turns
            )
            found += [(name, t.onset) for t in got]
        return found

    print(f"turn settings: {config}")
    print(f"{'rule':12s} {'setting':10s} {'false starts':>12s}   turn F1 {'  '.join(CONDITIONS)}")
    print(f"{'-':12s} {'off':10s} {len(false_starts(None, None)):12d}   {f1_row(None, None)}")
    for rule, level in RULES.items():
        for mode in MODES:
            print(f"{rule:12s} {mode:10s} {len(false_starts(mode, level)):12d}   {f1_row(mode, level)}")
    if args.where:
        for rule in ("alone", "agree>=exit"):
            for mode in MODES:
                where = false_starts(mode, RULES[rule])
                first = sum(1 for _, onset in where if onset < config.warmup_ms / 1000)
                print(
                    f"\n{rule} {mode}: {len(where)} false starts, {first} in the first {config.warmup_ms} ms"
                )
                print("  " + ", ".join(f"{name}@{onset:.2f}s" for name, onset in where))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
