"""``openapiopenai eval DIR...``: accuracy per dataset and overall, our detector beside baselines."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from openapiopenai.asr.whisper import DEFAULT_MODEL
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import AUTO, available_models

__all__ = ["NOISY", "add_parser", "run"]

#: the condition that runs ``evaluation.noisy`` (speech in real noise, noise reduction on and off)
NOISY = "noisy"


def _add_turn_options(parser: argparse.ArgumentParser) -> None:
    """The ``detect`` command's turn flags (defaults from TurnDetectionConfig), or the same
    flags built here from the config's fields if that module cannot be imported."""
    try:
        from openapiopenai.offline_cli import add_turn_options
    except ImportError:  # pragma: no cover - only while offline_cli is being rewritten
        group = parser.add_argument_group("turn detection (server_vad)")
        defaults = TurnDetectionConfig()
        for f in fields(TurnDetectionConfig):
            default = getattr(defaults, f.name)
            kind = int if f.name.endswith("_ms") else float
            group.add_argument(
                "--" + f.name.replace("_", "-"), type=kind, default=default, help=f"(default: {default})"
            )
        return
    add_turn_options(parser)


def _turn_config(args: argparse.Namespace) -> TurnDetectionConfig:
    return TurnDetectionConfig(**{f.name: getattr(args, f.name) for f in fields(TurnDetectionConfig)})


def add_parser(subparsers: Any) -> None:
    from openapiopenai.evaluation.runner import CHUNK_MS, CONDITIONS

    parser = subparsers.add_parser(
        "eval",
        help="measure accuracy against labelled audio",
        description="Frame-level (10 ms) and turn-level accuracy of the turn detector beside baselines\n"
        "(the same detector with plain rules: no hysteresis, onset dating, minimum speech or warm-up,\n"
        "shown as 'ours-before'; Silero with VADIterator rules; webrtcvad mode 3; an energy detector).\n"
        "Audio goes through the library's Detector, a fresh session per file; the scoring rules are\n"
        "summarised in docs/evaluation-results.md.\n"
        "\n"
        "A labelled folder (DIR) holds audio files (.wav/.flac/.ogg) and a speech_segments.csv:\n"
        "  data/my-dataset/\n"
        "    a.wav  b.flac  ...\n"
        "    speech_segments.csv    file,start_s,end_s: one row per speech segment; a file with no\n"
        "                           rows is non-speech from start to end\n"
        "    transcripts.csv        optional, file,text: adds the word error rate (see --no-wer)",
        epilog="examples:\n"
        "  openapiopenai eval data/my-dataset                        one labelled folder\n"
        "  openapiopenai eval DIR1 DIR2 --conditions clean,pcmu,pcma with the G.711 transcodes\n"
        "  openapiopenai eval DIR --json --limit-files 20            JSON rows, a quick run\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folders", nargs="+", metavar="DIR", help="folders with audio + speech_segments.csv")
    parser.add_argument(
        "--limit-files", type=int, default=None, metavar="N", help="first N files per folder (default: all)"
    )
    parser.add_argument(
        "--conditions",
        default="clean",
        metavar="LIST",
        help=f"comma list of {', '.join(CONDITIONS)}, {NOISY} (pcmu/pcma: G.711 at 8 kHz; {NOISY}: mixed "
        "with --noise-dir at 0/5/10 dB SNR, with and without noise reduction); default: clean",
    )
    parser.add_argument(
        "--noise-dir",
        default=None,
        metavar="DIR",
        help=f"{NOISY}: folder of noise recordings (default: nonspeech-dev beside the first DIR)",
    )
    parser.add_argument(
        "--denoiser",
        default="rnnoise",
        choices=("rnnoise", "deepfilternet"),
        help=f"{NOISY}: the noise reduction compared with none (default: rnnoise)",
    )
    parser.add_argument(
        "--backend",
        default=AUTO,
        choices=[AUTO, *available_models()],
        help=f"speech model of 'ours' (default: {AUTO})",
    )
    parser.add_argument(
        "--chunk-ms", type=int, default=CHUNK_MS, metavar="MS", help=f"append size (default: {CHUNK_MS})"
    )
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of tables")
    parser.add_argument(
        "--turn-taking",
        action="store_true",
        help="instead: cut-offs at inserted mid-sentence pauses and end-of-turn latency, server_vad "
        "against semantic_vad, on one-sentence-per-file folders",
    )
    parser.add_argument(
        "--no-wer",
        dest="wer",
        action="store_false",
        help="skip the word error rate on folders with a transcripts.csv (it transcribes each file twice)",
    )
    parser.add_argument(
        "--transcription-model",
        default=DEFAULT_MODEL,
        metavar="NAME_OR_PATH",
        help=f"model for the WER (default: {DEFAULT_MODEL}, the bundled copy)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_turn_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "turn_taking", False):
        from openapiopenai.evaluation.turn_taking import main as turn_taking_main

        return turn_taking_main(args.folders, args.limit_files, as_json=args.json)
    from tqdm import tqdm

    from openapiopenai.evaluation.datasets import load_dataset
    from openapiopenai.evaluation.report import json_rows, table
    from openapiopenai.evaluation.runner import CONDITIONS, evaluate

    conditions = list(dict.fromkeys(c.strip() for c in args.conditions.split(",") if c.strip()))
    noisy = NOISY in conditions
    conditions = [c for c in conditions if c != NOISY]
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown or not (conditions or noisy):
        print(
            f"openapiopenai eval: unknown condition(s) {unknown}; "
            f"choose from {', '.join([*CONDITIONS, NOISY])}",
            file=sys.stderr,
        )
        return 2
    if args.limit_files is not None and args.limit_files < 1:
        print("openapiopenai eval: --limit-files must be >= 1", file=sys.stderr)
        return 2
    if args.chunk_ms < 1:
        print("openapiopenai eval: --chunk-ms must be >= 1", file=sys.stderr)
        return 2
    try:
        datasets = [load_dataset(folder, args.limit_files) for folder in args.folders]
    except (FileNotFoundError, ValueError) as exc:
        print(f"openapiopenai eval: {exc}", file=sys.stderr)
        return 2
    config = _turn_config(args)
    if noisy:
        status = _run_noisy(args, datasets, config)
        if status or not conditions:
            return status
    with tqdm(
        total=sum(len(d.files) for d in datasets),
        unit="file",
        file=sys.stderr,
        disable=args.no_progress or None,
        leave=False,
    ) as bar:

        def advance(_: object) -> None:
            bar.update(1)

        raw = evaluate(
            datasets,
            conditions,
            config,
            backend=args.backend,
            chunk_ms=args.chunk_ms,
            progress=advance,
        )
    results = {key: {system: r.row() for system, r in systems.items()} for key, systems in raw.items()}
    if args.json:
        print(json_rows(results))
    else:
        print(f"turn settings: {config}")
        print(f"backend of 'ours': {args.backend}; appends of {args.chunk_ms} ms")
        print(table(results))
    if args.wer:
        from openapiopenai.evaluation.wer_cli import report_wer

        return report_wer(args, config)
    return 0


def _run_noisy(args: argparse.Namespace, datasets: list[Any], config: TurnDetectionConfig) -> int:
    """``--conditions noisy``: the speech sets in noise, with and without noise reduction."""
    from tqdm import tqdm

    from openapiopenai.denoise import load_denoiser
    from openapiopenai.evaluation.datasets import load_dataset
    from openapiopenai.evaluation.noisy import PAD_AFTER_S, PAD_BEFORE_S, evaluate_noisy, noisy_table
    from openapiopenai.exceptions import ModelLoadError
    from openapiopenai.vad.registry import load_model

    noise_dir = (
        Path(args.noise_dir) if args.noise_dir else Path(args.folders[0]).resolve().parent / "nonspeech-dev"
    )
    try:
        noise = load_dataset(noise_dir)
        denoiser = load_denoiser(args.denoiser)
    except (FileNotFoundError, ValueError, ModelLoadError) as exc:
        print(f"openapiopenai eval: {exc}", file=sys.stderr)
        return 2
    speech_sets = [d for d in datasets if d.name != noise.name]
    total = sum(len(d.files) for d in speech_sets) + len(noise.files)
    with tqdm(
        total=total, unit="file", file=sys.stderr, disable=args.no_progress or None, leave=False
    ) as bar:

        def advance(_: object) -> None:
            bar.update(1)

        results = evaluate_noisy(
            speech_sets,
            noise,
            config,
            load_model(args.backend),
            denoiser,
            chunk_ms=args.chunk_ms,
            progress=advance,
        )
    if args.json:
        import json

        rows = [
            {"dataset": d, "condition": c, "noise_reduction": s, **r.row()}
            for (d, c), settings in results.items()
            for s, r in settings.items()
        ]
        print(json.dumps(rows, indent=1))
    else:
        print(f"turn settings: {config}")
        print(
            f"noisy: speech mixed with {noise_dir} at 0/5/10 dB SNR, {PAD_BEFORE_S:g} s of the noise alone "
            f"before each file and {PAD_AFTER_S:g} s after it; denoiser {args.denoiser}"
        )
        print(noisy_table(results))
    if args.wer:
        return _report_noisy_wer(args, noise, denoiser, config)
    return 0


def _report_noisy_wer(
    args: argparse.Namespace, noise: Any, denoiser: Any, config: TurnDetectionConfig
) -> int:
    """``--conditions noisy`` on folders with a ``transcripts.csv``: WER of the same mixes, turn by
    turn and whole file, each noise-reduction setting side by side (``evaluation.noisy.noisy_wer``)."""
    import json

    from tqdm import tqdm

    from openapiopenai.evaluation.noisy import noisy_wer, noisy_wer_table
    from openapiopenai.evaluation.wer_cli import wer_folders
    from openapiopenai.vad.registry import load_model

    found = wer_folders(args)
    if found is None:
        return 0
    folders, transcriber = found
    for folder in folders:
        with tqdm(
            unit="file", desc=f"WER {folder}", file=sys.stderr, disable=args.no_progress or None
        ) as bar:
            results = noisy_wer(
                folder,
                noise,
                transcriber,
                denoiser,
                model=load_model(args.backend),
                config=config,
                limit_files=args.limit_files,
                chunk_ms=args.chunk_ms,
                progress=lambda _: bar.update(1),
            )
        name = Path(folder).name
        if args.json:
            rows = [
                {"dataset": name, "condition": c, "noise_reduction": s, "model": transcriber.name, **r.row()}
                for (c, s), r in results.items()
            ]
            print(json.dumps(rows, indent=1))
        else:
            first = next(iter(results.values()))
            print()
            print(
                f"word error rate, {name} in the same noise ({transcriber.name}, "
                f"{len(first.references)} files, Whisper English normaliser, corpus WER %): "
                "turn by turn (what a client receives) and whole file"
            )
            print(noisy_wer_table(results))
    return 0
