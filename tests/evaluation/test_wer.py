"""Word error rate: the normalisation, the arithmetic, and ``eval`` on real LibriSpeech files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from openapiopenai.cli import main
from tests.audio._data import LIBRISPEECH, data_file

pytest.importorskip("jiwer")
pytest.importorskip("faster_whisper")

from openapiopenai.evaluation.wer import normalize, word_error_rate


def test_normalisation_ignores_case_punctuation_and_how_numbers_are_written() -> None:
    assert normalize("Mr. Hale said, in 1803!") == normalize("MISTER HALE SAID IN EIGHTEEN O THREE")
    assert normalize("There's iron") == normalize("THERE IS IRON")


def test_wer_counts_substitutions_deletions_and_insertions_over_reference_words() -> None:
    assert word_error_rate(["the cat sat"], ["the cat sat"]) == (0.0, 0, 3)
    assert word_error_rate(["the cat sat"], ["the dog sat down"]) == (2 / 3, 2, 3)
    rate, errors, words = word_error_rate(["a b c d", "e f"], ["a b d", "e f"])
    assert (errors, words) == (1, 6) and rate == pytest.approx(1 / 6)


def test_eval_reports_turn_by_turn_and_whole_file_wer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["367-130732-0001.flac", "3005-163389-0002.flac"]
    with data_file(LIBRISPEECH, "transcripts.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["file"] in names]
    with data_file(LIBRISPEECH, "speech_segments.csv").open(newline="") as fh:
        segments = [r for r in csv.DictReader(fh) if r["file"] in names]
    for name in names:
        (tmp_path / name).symlink_to(data_file(LIBRISPEECH, name))
    for file_name, table in (("transcripts.csv", rows), ("speech_segments.csv", segments)):
        with (tmp_path / file_name).open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    assert main(["eval", str(tmp_path), "--json", "--no-progress"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (wer_row,) = [line for line in lines if "wer_turn_by_turn" in line]
    assert wer_row["files"] == 2 and wer_row["turns"] >= 2
    assert wer_row["reference_words"] == sum(len(r["text"].split()) for r in rows)
    assert 0 <= wer_row["wer_whole_file"] < 30 and 0 <= wer_row["wer_turn_by_turn"] < 30
