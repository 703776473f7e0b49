"""``openapiopenai detect`` as a new user meets it: wrong files, empty files, headerless audio,
``| head``, and the help pages. Every user error is one line naming the file and the reason,
never a traceback, and the other files are still processed."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr

from openapiopenai.audio import g711
from openapiopenai.cli import SUBCOMMANDS, build_parser, main
from openapiopenai.offline_cli import BROKEN_PIPE_EXIT, HEADERLESS_HINT

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "examples" / "hello.wav"  # two sentences, 24 kHz PCM16


def hello_pcm() -> bytes:
    with wave.open(str(HELLO)) as clip:
        return bytes(clip.readframes(clip.getnframes()))


def hello_float(rate: int) -> np.ndarray:
    samples = np.frombuffer(hello_pcm(), "<i2").astype(np.float32) / 32768
    return samples if rate == 24_000 else soxr.resample(samples, 24_000, rate).astype(np.float32)


def segments(out: str) -> list[tuple[float, float]]:
    rows = [line.split(",") for line in out.splitlines()[1:]]
    return [(float(r[1]), float(r[2])) for r in rows]


def run_detect(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(["detect", "--no-progress", "--output", "segments", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def test_missing_file_is_one_line_and_the_other_files_still_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.wav"
    code, out, err = run_detect(capsys, str(missing), str(HELLO))
    assert code == 1
    assert err == [f"openapiopenai detect: error: {missing}: no such file or directory"]
    assert len(segments(out)) == 2  # hello.wav was still processed


def test_a_folder_without_audio_is_an_error_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt.bak").write_text("not audio")
    code, out, err = run_detect(capsys, str(tmp_path))
    assert code == 1
    assert err == [f"openapiopenai detect: error: {tmp_path}: no audio files in it"]
    assert out == "file,start_s,end_s\n"


def test_file_that_is_not_audio_says_why(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("these are not samples\n")
    code, _, err = run_detect(capsys, str(notes), str(HELLO))
    assert code == 1
    assert len(err) == 1
    assert err[0].startswith(f"openapiopenai detect: error: {notes}: not a readable audio file")
    assert "--raw" in err[0]  # and what to do if it is headerless audio


def test_empty_file_is_a_warning_not_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    code, out, err = run_detect(capsys, str(empty))
    assert code == 0
    assert err == [
        f"openapiopenai detect: warning: {empty}: empty file (0 bytes): no audio to detect turns in"
    ]
    assert out == "file,start_s,end_s\n"


def test_zero_second_wav_is_a_warning(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    zero = tmp_path / "zero.wav"
    with wave.open(str(zero), "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(16_000)
        clip.writeframes(b"")
    code, _, err = run_detect(capsys, str(zero))
    assert code == 0
    assert err == [f"openapiopenai detect: warning: {zero}: 0 seconds of audio: no turns to detect"]


def test_bad_setting_is_one_line_before_any_file_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_detect(capsys, "--threshold", "2", str(HELLO))
    assert code == 2
    assert err == ["openapiopenai: error: threshold must be within [0, 1], got 2.0"]
    assert out == ""


def test_headerless_pcm_by_extension_gives_the_wavs_turns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    raw = tmp_path / "hello.pcm"
    raw.write_bytes(hello_pcm())
    _, from_wav, _ = run_detect(capsys, str(HELLO))
    code, from_raw, err = run_detect(capsys, str(raw))
    assert code == 0 and err == []
    assert segments(from_raw) == segments(from_wav)


def test_headerless_ulaw_by_extension_is_streamed_as_pcmu(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ulaw = tmp_path / "call.ulaw"
    ulaw.write_bytes(bytes(g711.ulaw_encode(hello_float(8_000))))
    code, out, err = run_detect(capsys, str(ulaw))
    assert code == 0 and err == []
    _, from_wav, _ = run_detect(capsys, str(HELLO))
    raw_turns, wav_turns = segments(out), segments(from_wav)
    assert len(raw_turns) == len(wav_turns) == 2
    for (s1, e1), (s2, e2) in zip(raw_turns, wav_turns, strict=True):
        assert abs(s1 - s2) < 0.1 and abs(e1 - e2) < 0.1  # G.711 at 8 kHz, scored by the 8 kHz head


def test_raw_flag_with_rate_reads_any_headerless_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    samples = hello_float(16_000)
    pcm16k = np.clip(np.round(samples * 32768), -32768, 32767).astype("<i2").tobytes()
    raw = tmp_path / "hello16k.bin"
    raw.write_bytes(pcm16k + b"\x01")  # and a stray byte
    code, out, err = run_detect(capsys, "--raw", "--rate", "16000", str(raw))
    assert code == 0
    assert err == [
        f"openapiopenai detect: warning: {raw}: ignored the last 1 byte(s): not a whole pcm16 sample"
    ]
    _, from_wav, _ = run_detect(capsys, str(HELLO))
    for (s1, e1), (s2, e2) in zip(segments(out), segments(from_wav), strict=True):
        assert abs(s1 - s2) < 0.05 and abs(e1 - e2) < 0.05


def test_rate_for_a_file_with_a_header_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_detect(capsys, "--rate", "16000", str(HELLO))
    assert code == 0
    assert err == [
        f"openapiopenai detect: warning: {HELLO}: --rate 16000 ignored: the file's header gives its rate"
    ]
    assert len(segments(out)) == 2


def test_without_raw_a_headerless_file_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    raw = tmp_path / "hello.bin"
    raw.write_bytes(hello_pcm())
    code, _, err = run_detect(capsys, str(raw))
    assert code == 1 and len(err) == 1 and "not a readable audio file" in err[0]


def test_dot_raw_is_headerless_pcm16_like_dot_pcm(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """soundfile itself would open a .raw name as rateless raw audio: ``TypeError: samplerate
    must be specified``."""
    raw = tmp_path / "hello.raw"
    raw.write_bytes(hello_pcm())
    _, from_wav, _ = run_detect(capsys, str(HELLO))
    code, from_raw, err = run_detect(capsys, str(raw))
    assert code == 0 and err == []
    assert segments(from_raw) == segments(from_wav)


def test_a_soundfile_type_error_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openapiopenai.offline

    def rateless(path: str, rate: int) -> np.ndarray:
        raise TypeError("samplerate must be specified")

    monkeypatch.setattr(openapiopenai.offline, "read_audio", rateless)
    odd = tmp_path / "take.snd"
    odd.write_bytes(hello_pcm())
    code, _, err = run_detect(capsys, str(odd))
    assert code == 1
    assert err == [f"openapiopenai detect: error: {odd}: headerless audio: {HEADERLESS_HINT}"]


def test_raw_flag_on_a_wav_warns_that_its_header_is_read_as_samples(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_detect(capsys, "--raw", str(HELLO))
    assert code == 0 and len(segments(out)) == 2
    assert err == [
        f"openapiopenai detect: warning: {HELLO}: looks like a WAV file, but --raw reads its header as "
        "samples too"
    ]


def test_text_named_mp3_is_one_line_without_decoder_chatter(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """libmpg123 writes "Note: Trying to resync..." to file descriptor 2 itself, and libsndfile
    then says the file "does not exist": neither reaches the user."""
    fake = tmp_path / "song.mp3"
    fake.write_text("just text, no frames\n" * 3)
    code = main(["detect", "--no-progress", "--output", "segments", str(fake), str(HELLO)])
    captured = capfd.readouterr()
    assert code == 1
    assert captured.err.splitlines() == [
        f"openapiopenai detect: error: {fake}: not a readable audio file; {HEADERLESS_HINT}"
    ]
    assert len(segments(captured.out)) == 2  # hello.wav was still processed


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (lambda b: b[:22] + b"\x00\x00" + b[24:], "Channel count is zero"),  # 0 channels
        (lambda b: b[:20] + b"\xff" * 20 + b[40:], "Malformed 'fmt ' chunk"),  # corrupt fmt chunk
        (lambda b: b[:30], "No 'data' chunk"),  # cut inside the header
    ],
)
def test_a_broken_wav_header_is_one_line_with_libsndfiles_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, header: Any, detail: str
) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(header(HELLO.read_bytes()))
    code, out, err = run_detect(capsys, str(broken), str(HELLO))
    assert code == 1 and len(err) == 1
    assert err[0].startswith(f"openapiopenai detect: error: {broken}: not a readable audio file (")
    assert detail in err[0]
    assert len(segments(out)) == 2


def test_stereo_and_44k_files_give_the_turns_of_the_24k_mono_clip(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import soundfile

    mono = hello_float(24_000)
    soundfile.write(tmp_path / "stereo.wav", np.stack([mono, mono * 0.5], axis=1), 24_000)
    soundfile.write(tmp_path / "cd.flac", soxr.resample(mono, 24_000, 44_100), 44_100)
    _, from_wav, _ = run_detect(capsys, str(HELLO))
    for name in ("stereo.wav", "cd.flac"):
        code, out, err = run_detect(capsys, str(tmp_path / name))
        assert code == 0 and err == [], name
        for (s1, e1), (s2, e2) in zip(segments(out), segments(from_wav), strict=True):
            assert abs(s1 - s2) < 0.05 and abs(e1 - e2) < 0.05, name


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("bad.parquet", b"hello\n", "not a Parquet manifest (Parquet file size is 6 bytes"),
        ("wav.parquet", None, "not a Parquet manifest (Parquet magic bytes not found"),
        ("bad.csv", bytes(range(256)), "not UTF-8 text, so not a CSV manifest"),
        ("bad.txt", b"\xff\xfe\x00", "not UTF-8 text, so not a list of paths"),
        ("empty.csv", b"", "manifest has no columns"),
        (
            "times.csv",
            b"start_s,end_s\n0.1,0.5\n",
            "manifest has no file/path/audio/audio_path column, and its first column ('start_s') "
            "names no existing file (its columns: start_s, end_s)",
        ),
    ],
)
def test_a_bad_list_or_manifest_is_one_line_and_the_other_files_still_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: bytes | None, reason: str
) -> None:
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    listing = tmp_path / name
    listing.write_bytes(HELLO.read_bytes() if content is None else content)
    code, out, err = run_detect(capsys, str(listing), str(HELLO))
    assert code == 1
    assert len(err) == 1 and err[0].startswith(f"openapiopenai detect: error: {listing}: {reason}"), err
    assert len(segments(out)) == 2


def test_a_missing_manifest_names_it_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    code, _, err = run_detect(capsys, str(missing))
    assert code == 1
    assert err == [f"openapiopenai detect: error: {missing}: no such file or folder"]


def test_a_one_column_manifest_without_a_header_name_still_works(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "list.csv").write_text(f"clip\n{HELLO}\n")
    code, out, err = run_detect(capsys, str(tmp_path / "list.csv"))
    assert code == 0 and err == [] and len(segments(out)) == 2


def test_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """``detect ... | head -1``: no traceback, the exit status of a filter killed by SIGPIPE."""
    argv = [sys.executable, "-m", "openapiopenai", "detect", "--no-progress", *[str(HELLO)] * 40]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # 40 files of events are far more than a pipe buffer: the writer must notice
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == BROKEN_PIPE_EXIT
    assert first.startswith(b'{"type":"input_audio_buffer.speech_started"')
    assert err == ""


# ---------------------------------------------------------------- help pages


def subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser(name)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    chosen: argparse.ArgumentParser = sub.choices[name]
    return chosen


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
def test_help_shows_each_default_once_and_ends_with_examples(command: str) -> None:
    parser = subparser(command)
    for action in parser._actions:
        assert (action.help or "").count("default") <= 1, action.option_strings
        assert "None" not in (action.help or ""), action.option_strings
    text = parser.format_help()
    tail = text.rstrip().split("\n\n")[-1].splitlines()
    assert tail[0] == "examples:", tail  # the examples are the last thing on the page
    assert len(tail) > 2
    for line in tail[1:]:  # each an invocation, possibly after an environment variable
        assert re.match(rf"  (?:[A-Z_]+=\S+ )?openapiopenai {command}\b", line), line


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
def test_every_option_says_what_it_takes_and_its_default(command: str) -> None:
    """No ``--batch-size BATCH_SIZE``: a value is named (N, MS, PATH...) or its choices listed,
    and every option has help that shows its default when it has one."""
    for action in subparser(command)._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        flag = action.option_strings[-1]
        assert action.help, flag
        if action.nargs != 0:
            assert action.choices is not None or action.metavar is not None, flag
            assert action.metavar != action.dest.upper(), flag
            if not action.required:
                assert "default" in action.help, flag


def test_the_model_flag_reads_the_same_everywhere() -> None:
    for command in ("serve", "detect", "eval"):
        flag = next(a for a in subparser(command)._actions if "--transcription-model" in a.option_strings)
        assert flag.metavar == "NAME_OR_PATH", command


def test_top_level_help_ends_with_examples() -> None:
    tail = build_parser().format_help().rstrip().split("\n\n")[-1].splitlines()
    assert tail[0] == "examples:" and len(tail) > 2


def test_detect_help_lists_the_choices() -> None:
    text = subparser("detect").format_help()
    assert "{auto,silero,webrtc,energy}" in text
    assert "{pcm,pcma,pcmu}" in text and "{events,segments,json}" in text


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_help_refers_only_to_files_that_exist(command: str | None) -> None:
    """A path of this repository exists; a path outside a user's checkout (``../``) is never
    named at all."""
    parser = build_parser(command) if command is None else subparser(command)
    text = parser.format_help()
    assert not re.findall(r"(?:^|[\s'\"(=])\.\.?/[\w./-]*", text)
    for ref in re.findall(r"(?<![\w./-])(?:docs|examples|tests|bench|tools|src)/[\w./-]+", text):
        assert (ROOT / ref.rstrip(".")).exists(), ref
