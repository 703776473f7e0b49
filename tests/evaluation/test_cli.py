"""``openapiopenai eval`` end to end on a small subset of the shared data."""

from __future__ import annotations

import json

import pytest

from openapiopenai.cli import main
from tests.audio._data import DATA_DIR, TEN_VAD


def test_eval_runs_all_systems_and_conditions_on_real_data(capsys: pytest.CaptureFixture[str]) -> None:
    folder = DATA_DIR / TEN_VAD
    if not folder.is_dir():
        pytest.skip(f"shared data not found: {folder}")
    argv = [
        "eval",
        str(folder),
        "--limit-files",
        "2",
        "--conditions",
        "clean,pcmu,pcma",
        "--json",
        "--no-progress",
    ]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    systems = {r["system"] for r in rows}
    assert systems == {"ours", "silero-vaditerator", "webrtc", "energy"}
    assert {r["condition"] for r in rows} == {"clean", "pcmu", "pcma"}
    ours = next(
        r for r in rows if r["system"] == "ours" and r["dataset"] == "overall" and r["condition"] == "clean"
    )
    assert 0.8 < ours["f1"] <= 1.0
    assert 0.8 < ours["auc"] <= 1.0
    assert ours["missed"] == 0
