"""``openapiopenai segment`` on a local Ray gives the single-process segments of the same files.

The files are the repository's speech fixtures, copied into the test's folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from openapiopenai.cli import main
from openapiopenai.corpus.files import detect_file, expand_inputs
from tests.audio._data import SPEECH_THEN_SILENCE, TWO_TURNS, fixture_path

ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed (the dev extra includes it)")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = [
    pytest.mark.timeout(300),
    # Ray's own import-time and shutdown warnings are not ours
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def copy_fixture(name: str, folder: Path) -> str:
    """A fixture copied into ``folder`` (the test's own files, as a corpus would be)."""
    target = folder / name
    shutil.copyfile(fixture_path(name), target)
    return str(target)


@pytest.fixture(scope="module")
def local_ray() -> object:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_segment_on_ray_matches_the_single_process_path(local_ray: object, tmp_path: Path) -> None:
    files = [copy_fixture(TWO_TURNS, tmp_path), copy_fixture(SPEECH_THEN_SILENCE, tmp_path)]
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file\n" + "\n".join(files) + "\n")
    output = tmp_path / "segments.parquet"
    argv = ["segment", str(manifest), "--output", str(output), "--actors", "2", "--batch-size", "1"]
    assert main(argv) == 0
    assert not (tmp_path / "segments.parquet.errors.csv").exists()
    table = pq.read_table(output)
    assert table.column_names == ["file", "start_s", "end_s"]
    got = list(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    paths = expand_inputs([str(manifest)])
    expected = [(path, s.start_s, s.end_s) for path in paths for s in detect_file(path).segments]
    assert len({row[0] for row in expected}) == 2  # both files have speech: the comparison can fail
    assert len(expected) == 3  # two turns and one
    assert got == expected


def test_unreadable_files_are_listed_and_the_rest_segmented(local_ray: object, tmp_path: Path) -> None:
    good = copy_fixture(TWO_TURNS, tmp_path)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    output = tmp_path / "segments.parquet"
    argv = ["segment", good, str(bad), "--output", str(output), "--skip-unreadable", "--actors", "1"]
    assert main(argv) == 1
    table = pq.read_table(output)
    assert set(table.column("file").to_pylist()) == {good}
    starts = [s.start_s for s in detect_file(good).segments]
    assert len(starts) == 2 and table.column("start_s").to_pylist() == starts
    errors = (tmp_path / "segments.parquet.errors.csv").read_text().splitlines()
    assert errors[0] == "file,error" and errors[1].startswith(f"{bad},") and len(errors) == 2
