"""Labelled folders: CSV names with or without extension, unlisted files are non-speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from openapiopenai.evaluation.datasets import load_dataset, read_mono


def make_folder(tmp_path: Path, csv: str, names: list[str]) -> Path:
    for name in names:
        sf.write(tmp_path / name, np.zeros(1600, dtype=np.float32), 16_000)
    (tmp_path / "speech_segments.csv").write_text(csv)
    (tmp_path / "README.md").write_text("not audio")
    return tmp_path


def test_rows_match_files_named_with_or_without_extension(tmp_path: Path) -> None:
    folder = make_folder(
        tmp_path,
        "file,start_s,end_s\nb.wav,0.5,0.9\na,0.1,0.2\na,0.0,0.05\n",
        ["a.wav", "b.wav", "c.flac"],
    )
    dataset = load_dataset(folder)
    assert dataset.name == folder.name
    assert [f.path.name for f in dataset.files] == ["a.wav", "b.wav", "c.flac"]
    assert [f.speech for f in dataset.files] == [((0.0, 0.05), (0.1, 0.2)), ((0.5, 0.9),), ()]


def test_limit_files_takes_the_first_files_in_name_order(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, "file,start_s,end_s\n", ["z.wav", "m.wav", "a.wav"])
    assert [f.path.name for f in load_dataset(folder, limit_files=2).files] == ["a.wav", "m.wav"]


def test_a_folder_without_labels_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path)


def test_read_mono_mixes_channels_and_keeps_the_rate(tmp_path: Path) -> None:
    stereo = np.stack([np.full(800, 0.5), np.full(800, -0.25)], axis=1).astype(np.float32)
    sf.write(tmp_path / "s.wav", stereo, 8000, subtype="FLOAT")
    samples, rate = read_mono(tmp_path / "s.wav")
    assert rate == 8000
    assert samples.dtype == np.float32
    assert np.allclose(samples, 0.125)
