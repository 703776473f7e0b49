"""``openapiopenai eval`` end to end: the shared dev data, and a folder of noise only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from openapiopenai.cli import main
from tests.audio._data import TEN_VAD, shared_dataset


def test_eval_runs_all_systems_and_conditions_on_real_data(capsys: pytest.CaptureFixture[str]) -> None:
    folder = shared_dataset(TEN_VAD)
    argv = ["eval", str(folder), "--limit-files", "2", "--conditions", "clean,pcmu,pcma", "--json"]
    assert main([*argv, "--no-progress"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["system"] for r in rows} == {"ours", "ours-before", "silero-vaditerator", "webrtc", "energy"}
    assert {r["condition"] for r in rows} == {"clean", "pcmu", "pcma"}
    assert {r["dataset"] for r in rows} == {TEN_VAD, "overall"}
    ours = next(
        r for r in rows if r["system"] == "ours" and r["dataset"] == "overall" and r["condition"] == "clean"
    )
    assert 0.8 < ours["f1"] <= 1.0
    assert 0.8 < ours["auc"] <= 1.0
    assert ours["missed"] == 0
    assert ours["true_turns"] > 0


def test_eval_prints_a_table_with_the_margin_over_the_vaditerator_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = shared_dataset(TEN_VAD)
    assert main(["eval", str(folder), "--limit-files", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "silero-vaditerator" in out
    assert "frame F1 margin ours - silero-vaditerator" in out


def test_every_turn_on_a_noise_only_recording_is_a_false_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    bursts = np.repeat(rng.random(40) < 0.5, 800) * 0.3 * rng.standard_normal(32_000)
    sf.write(tmp_path / "noise.wav", bursts.astype(np.float32), 16_000)
    (tmp_path / "speech_segments.csv").write_text("file,start_s,end_s\n")
    assert main(["eval", str(tmp_path), "--json", "--no-progress"]) == 0
    rows = json.loads(capsys.readouterr().out)
    energy = next(r for r in rows if r["system"] == "energy" and r["dataset"] == "overall")
    assert energy["true_turns"] == 0
    assert energy["auc"] is None  # one class only: no ranking to measure
    assert energy["false_starts"] == energy["predicted_turns"] > 0


def test_the_nonspeech_set_loads_as_all_non_speech_and_every_turn_there_is_a_false_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from openapiopenai.evaluation.datasets import load_dataset

    folder = shared_dataset("nonspeech-dev")
    dataset = load_dataset(folder)
    assert len(dataset.files) == 40
    assert {f.path.suffix for f in dataset.files} == {".ogg", ".flac", ".wav"}
    assert all(f.speech == () for f in dataset.files)
    argv = ["eval", str(folder), "--limit-files", "5", "--conditions", "clean", "--json", "--no-progress"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        assert row["true_turns"] == 0
        assert row["false_starts"] == row["predicted_turns"]
        assert row["nonspeech_min"] > 0.5


def test_unknown_condition_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["eval", str(tmp_path), "--conditions", "clean,gsm"]) == 2
    assert "gsm" in capsys.readouterr().err
