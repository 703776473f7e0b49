"""Results as a plain-text table (one block per dataset and condition) or JSON rows."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["COLUMNS", "json_rows", "table"]

#: (key in a result row, column title, format)
COLUMNS: Final = (
    ("precision", "P", "{:.3f}"),
    ("recall", "R", "{:.3f}"),
    ("f1", "F1", "{:.3f}"),
    ("auc", "AUC", "{:.3f}"),
    ("turn_f1", "turnF1", "{:.3f}"),
    ("onset_err_median_ms", "on50ms", "{:.0f}"),
    ("onset_err_p90_ms", "on90ms", "{:.0f}"),
    ("eot_latency_median_ms", "eot50ms", "{:.0f}"),
    ("eot_latency_p90_ms", "eot90ms", "{:.0f}"),
    ("false_starts", "FS", "{:.0f}"),
    ("false_starts_per_min", "FS/min", "{:.2f}"),
    ("missed", "missed", "{:.0f}"),
    ("split", "split", "{:.0f}"),
    ("merged", "merged", "{:.0f}"),
)
LEGEND: Final = (
    "P/R/F1: 10 ms frames, detector decision vs labels; AUC: raw probabilities; "
    "turnF1: turn spans vs merged labels;\n"
    "on50/on90: onset |error| median/p90; eot50/eot90: audio_end - true end, median/p90; "
    "FS: turns over no speech (false starts), FS/min: per minute of non-speech;\n"
    "missed/split/merged: true turns (labels merged across pauses < silence_duration_ms) with no "
    "turn / several turns / no stop since the previous one."
)

Results = Mapping[tuple[str, str], Mapping[str, Mapping[str, Any]]]


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def table(results: Results, *, reference: tuple[str, str] = ("ours", "silero-vaditerator")) -> str:
    """One block per (dataset, condition), systems as rows; each block ends with the frame-F1
    margin of ``reference[0]`` over ``reference[1]``."""
    width = max([len("system"), *(len(s) for systems in results.values() for s in systems)]) + 2
    lines: list[str] = []
    for (dataset, condition), systems in results.items():
        turns = next(iter(systems.values()), {})
        lines.append(
            f"\n{dataset} [{condition}]  ({turns.get('true_turns', 0):.0f} true turns, "
            f"{turns.get('nonspeech_min', 0.0):.1f} min non-speech)"
        )
        lines.append("system".ljust(width) + "".join(f"{title:>8}" for _, title, _ in COLUMNS))
        for system, row in systems.items():
            lines.append(system.ljust(width) + "".join(f"{_cell(row[k], f):>8}" for k, _, f in COLUMNS))
        ours, base = reference
        if ours in systems and base in systems:
            margin = systems[ours]["f1"] - systems[base]["f1"]
            lines.append(f"frame F1 margin {ours} - {base}: {margin:+.3f}")
    lines.append("")
    lines.append(LEGEND)
    return "\n".join(lines)


def json_rows(results: Results) -> str:
    """One JSON object per (dataset, condition, system); NaN becomes null."""
    rows = [
        {
            "dataset": dataset,
            "condition": condition,
            "system": system,
            **{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()},
        }
        for (dataset, condition), systems in results.items()
        for system, row in systems.items()
    ]
    return json.dumps(rows, indent=2)
