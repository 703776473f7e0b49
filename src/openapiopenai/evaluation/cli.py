"""``openapiopenai eval DIR...``: accuracy per dataset and overall, our detector beside baselines."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from openapiopenai.offline_cli import add_turn_options, turn_config_from_args

COLUMNS = (
    ("precision", "P", "{:.3f}"),
    ("recall", "R", "{:.3f}"),
    ("f1", "F1", "{:.3f}"),
    ("auc", "AUC", "{:.3f}"),
    ("turn_f1", "turnF1", "{:.3f}"),
    ("onset_err_median_ms", "onset50", "{:.0f}"),
    ("onset_err_p90_ms", "onset90", "{:.0f}"),
    ("eot_latency_median_ms", "EOT50", "{:.0f}"),
    ("eot_latency_p90_ms", "EOT90", "{:.0f}"),
    ("false_starts_per_min", "FS/min", "{:.2f}"),
    ("missed", "missed", "{:.0f}"),
    ("split", "split", "{:.0f}"),
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure accuracy against labelled audio",
        description="Frame-level (10 ms) and turn-level accuracy of the default detector and the "
        "baselines (Silero with VADIterator rules, webrtcvad mode 3, energy) on folders of audio "
        "with speech_segments.csv.",
    )
    parser.add_argument("folders", nargs="+", metavar="DIR", help="folders with audio + speech_segments.csv")
    parser.add_argument("--limit-files", type=int, default=None, help="first N files of each folder")
    parser.add_argument(
        "--conditions",
        default="clean",
        help="comma list of clean, pcmu, pcma (G.711 at 8 kHz); default clean",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_turn_options(parser)
    parser.set_defaults(func=run)


def table(results: dict[tuple[str, str], dict[str, Any]]) -> str:
    lines = []
    for (dataset, condition), systems in results.items():
        lines.append(f"\n{dataset} [{condition}]")
        lines.append(f"{'system':20}" + "".join(f"{title:>9}" for _, title, _ in COLUMNS))
        for system, row in systems.items():
            cells = []
            for key, _, fmt in COLUMNS:
                value = row[key]
                cells.append(
                    f"{'-' if isinstance(value, float) and math.isnan(value) else fmt.format(value):>9}"
                )
            lines.append(f"{system:20}" + "".join(cells))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from openapiopenai.evaluation.datasets import load_dataset
    from openapiopenai.evaluation.runner import CONDITIONS, evaluate

    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        print(f"openapiopenai eval: unknown conditions {sorted(unknown)}", file=sys.stderr)
        return 2
    datasets = [load_dataset(folder, args.limit_files) for folder in args.folders]
    config = turn_config_from_args(args)
    total = sum(len(d.files) for d in datasets)
    with tqdm(
        total=total, unit="file", file=sys.stderr, disable=args.no_progress or None, leave=False
    ) as bar:

        def advance(_: object) -> None:
            bar.update(1)

        raw = evaluate(datasets, conditions, config, progress=advance)
    results = {key: {system: r.row() for system, r in systems.items()} for key, systems in raw.items()}
    if args.json:
        payload = [
            {"dataset": dataset, "condition": condition, "system": system, **row}
            for (dataset, condition), systems in results.items()
            for system, row in systems.items()
        ]
        print(json.dumps(payload, indent=2, default=lambda v: None))
    else:
        print(f"turn settings: {config}")
        print(table(results))
    return 0
