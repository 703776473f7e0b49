"""Many files at once: folders, list files and manifests in; the same segments from a process pool."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from openapiopenai.cli import main
from openapiopenai.corpus.files import detect_file, detect_files, expand_inputs
from openapiopenai.exceptions import ConfigError
from tests.audio._data import SPEECH_8K, SPEECH_THEN_SILENCE, TWO_TURNS, fixture_path

#: three different files (two rates; one turn, one turn then silence, two turns)
NAMES = [SPEECH_8K, SPEECH_THEN_SILENCE, TWO_TURNS]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small corpus folder of the speech fixtures (copied), with a sub-folder and a non-audio file."""
    (tmp_path / "sub").mkdir()
    for i, name in enumerate(NAMES):
        shutil.copyfile(fixture_path(name), tmp_path / ("sub" if i == 2 else ".") / name)
    (tmp_path / "notes.md").write_text("not audio")
    return tmp_path


def test_a_folder_means_every_audio_file_under_it(corpus: Path) -> None:
    found = expand_inputs([str(corpus)])
    assert found == sorted([str(corpus / NAMES[0]), str(corpus / NAMES[1]), str(corpus / "sub" / NAMES[2])])


def test_list_files_and_csv_manifests_resolve_relative_paths(corpus: Path) -> None:
    (corpus / "list.txt").write_text(f"# corpus\n{NAMES[1]}\n\nsub/{NAMES[2]}\n")
    (corpus / "manifest.csv").write_text(f"speaker,file\na,{NAMES[0]}\nb,{corpus / 'sub' / NAMES[2]}\n")
    listed = expand_inputs([str(corpus / "list.txt"), str(corpus / "manifest.csv")])
    assert listed == [
        str(corpus / NAMES[1]),
        str(corpus / "sub" / NAMES[2]),
        str(corpus / NAMES[0]),
        str(corpus / "sub" / NAMES[2]),
    ]
    assert all(Path(p).is_file() for p in listed)


def test_a_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or folder"):
        expand_inputs([str(tmp_path / "missing.wav")])


def test_a_process_pool_gives_the_same_results_in_input_order(corpus: Path) -> None:
    paths = expand_inputs([str(corpus)])
    alone = [detect_file(p, events=True) for p in paths]
    pooled = list(detect_files(paths, events=True, jobs=2))
    assert [r.file for r in pooled] == paths
    assert pooled == alone
    assert all(r.segments for r in alone)  # every file has speech: the comparison can fail
    assert len({tuple(r.segments) for r in alone}) == len(alone)  # and its own: so can the order


def test_detect_cli_takes_a_folder_and_a_pool(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["detect", str(corpus), "--output", "segments", "--no-progress"]
    assert main(argv) == 0
    one = capsys.readouterr().out
    assert main([*argv, "--jobs", "2"]) == 0
    assert capsys.readouterr().out == one
    rows = list(csv.DictReader(io.StringIO(one)))
    assert {Path(r["file"]).name for r in rows} == set(NAMES)
