"""The noisy condition: mixes at the asked SNR, the same every run, and the CLI hook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soxr

from openapiopenai.audio.formats import PCM16_24K
from openapiopenai.denoise import DenoiseStream, Mode, load_denoiser, stream_factory
from openapiopenai.evaluation.datasets import load_dataset
from openapiopenai.evaluation.noisy import (
    MIX_RATE,
    PAD_AFTER_S,
    PAD_BEFORE_S,
    mix_at_snr,
    noise_for,
    noisy_mix,
    score_with_denoise,
    speech_power,
)
from openapiopenai.evaluation.runner import run_detector, turns_from_log, wire_bytes
from openapiopenai.protocol.config import Features
from openapiopenai.protocol.ids import IdFactory
from openapiopenai.protocol.session import Session
from openapiopenai.turns import TurnDetectionConfig
from openapiopenai.vad.silero import SileroModel
from tests.audio._data import DATA_DIR, TEN_VAD, read_audio, shared_dataset

NAME = "testset-audio-01.wav"


def noises() -> list[np.ndarray]:
    files = load_dataset(shared_dataset("nonspeech-dev"), 3).files
    return [read_audio("nonspeech-dev", f.path.name)[0][:100_000] for f in files]


@pytest.mark.parametrize("snr", [0.0, 5.0, 10.0])
def test_mix_has_the_asked_snr_over_the_labelled_speech(snr: float) -> None:
    speech, rate = read_audio(TEN_VAD, NAME)
    assert rate == MIX_RATE
    (labelled,) = [f for f in load_dataset(DATA_DIR / TEN_VAD).files if f.path.name == NAME]
    segments = labelled.speech
    noise = noise_for(NAME, len(speech), noises())
    mix = mix_at_snr(speech, noise, snr, segments)
    scale = float(np.dot(mix, speech) / np.dot(speech, speech))  # the peak guard may scale both
    residual = mix / scale - speech
    measured = 10 * np.log10(speech_power(speech, rate, segments) / np.mean(residual.astype(np.float64) ** 2))
    assert measured == pytest.approx(snr, abs=0.1)
    assert np.abs(mix).max() <= 0.99 + 1e-6


def test_the_same_file_gets_the_same_noise_every_run_and_another_file_other_noise() -> None:
    bank = noises()
    a = noise_for(NAME, 50_000, bank)
    assert np.array_equal(a, noise_for(NAME, 50_000, bank))
    assert not np.array_equal(a, noise_for("testset-audio-02.wav", 50_000, bank))
    assert len(noise_for(NAME, 500_000, bank)) == 500_000  # looped when the recording is short


@pytest.mark.parametrize("snr", [0.0, 10.0])
def test_a_noisy_file_has_the_noise_alone_before_and_after_the_speech_at_the_same_gain(snr: float) -> None:
    """No shared data needed: a tone as the 'speech', seeded white noise as the bank."""
    rate = MIX_RATE
    t = np.arange(2 * rate) / rate
    speech = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    speech[: rate // 2] = 0.0  # labelled speech from 0.5 s
    segments = [(0.5, 2.0)]
    bank = [np.random.default_rng(1).standard_normal(3 * rate).astype(np.float32) * 0.1]
    mix, labels = noisy_mix("a.wav", speech, segments, bank, snr)
    before, after = round(PAD_BEFORE_S * rate), round(PAD_AFTER_S * rate)
    assert len(mix) == before + len(speech) + after
    assert labels == [(0.5 + PAD_BEFORE_S, 2.0 + PAD_BEFORE_S)]
    noise = noise_for("a.wav", len(mix), bank)
    scale = float(np.dot(mix[:before], noise[:before]) / np.dot(noise[:before], noise[:before]))
    # one stretch of noise at one gain: the pads and the speech's noise are the same signal
    residual = mix - scale * noise
    np.testing.assert_allclose(residual[:before], 0.0, atol=1e-4)
    np.testing.assert_allclose(residual[-after:], 0.0, atol=1e-4)
    peak_scale = float(np.dot(residual, np.pad(speech, (before, after))) / np.dot(speech, speech))
    measured = 10 * np.log10(
        speech_power(speech, rate, segments)
        * peak_scale**2
        / np.mean((scale * noise.astype(np.float64)) ** 2)
    )
    assert measured == pytest.approx(snr, abs=0.1)  # the SNR over the labelled speech holds
    again, _ = noisy_mix("a.wav", speech, segments, bank, snr)
    assert np.array_equal(mix, again)  # the same every run


def test_eval_noisy_reports_each_setting_side_by_side(tmp_path: Path) -> None:
    shared_dataset(TEN_VAD)  # skips, or fails in CI, without the shared data
    shared_dataset("nonspeech-dev")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapiopenai",
            "eval",
            str(DATA_DIR / TEN_VAD),
            "--conditions",
            "noisy",
            "--limit-files",
            "1",
            "--noise-dir",
            str(tmp_path / "noise"),
            "--json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert out.returncode == 2 and "no such dataset folder" in out.stderr  # a missing noise folder is named
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    source = DATA_DIR / "nonspeech-dev" / "godot_glass_breaking.wav"
    (noise_dir / source.name).write_bytes(source.read_bytes())
    (noise_dir / "speech_segments.csv").write_text("file,start_s,end_s\n")
    out = subprocess.run(
        [
            *(
                sys.executable,
                "-m",
                "openapiopenai",
                "eval",
                str(DATA_DIR / TEN_VAD),
                "--conditions",
                "noisy",
            ),
            *("--limit-files", "1", "--noise-dir", str(noise_dir), "--json", "--no-progress"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    rows = json.loads(out.stdout)
    keys = {(r["dataset"], r["condition"], r["noise_reduction"]) for r in rows}
    for condition in ("0 dB", "5 dB", "10 dB", "clean"):
        for setting in ("off", "near_field", "far_field"):
            assert (TEN_VAD, condition, setting) in keys
    assert ("noise", "noise only", "off") in keys
    assert ("overall", "0 dB", "near_field") in keys  # the speech sets pooled
    clean_off = next(r for r in rows if r["condition"] == "clean" and r["noise_reduction"] == "off")
    assert clean_off["true_turns"] > 0 and 0.0 < clean_off["turn_f1"] <= 1.0
    for row in rows:  # noise alone before and after the speech: false starts measurable at each SNR
        if row["dataset"] == TEN_VAD and row["condition"].endswith("dB"):
            pads_min = (PAD_BEFORE_S + PAD_AFTER_S) / 60
            assert row["nonspeech_min"] >= pads_min + clean_off["nonspeech_min"] - 1e-6
            assert row["false_starts_per_min"] == pytest.approx(row["false_starts"] / row["nonspeech_min"])


@pytest.mark.parametrize("mode", ["near_field", "far_field"])
def test_the_noisy_eval_gives_a_denoised_session_s_own_turns(mode: Mode) -> None:
    """Replaying the recorded scores (the denoised ones, the un-denoised ones as the second
    opinion) gives the turns the Session itself reports, and the second opinion changes them."""
    speech, _ = read_audio(TEN_VAD, NAME)
    city, rate = read_audio("nonspeech-dev", "blanket_city.ogg")
    city = np.asarray(soxr.resample(city, rate, MIX_RATE), dtype=np.float32)[: 6 * MIX_RATE]
    samples = np.concatenate((city, mix_at_snr(speech, noise_for(NAME, len(speech), [city]), 5.0, [])))
    audio = wire_bytes(samples, MIX_RATE, PCM16_24K)
    model, denoiser = SileroModel(), load_denoiser("rnnoise")

    session = Session(
        model,
        ids=IdFactory(seed=1),
        features=Features(noise_reduction=True),
        denoiser=stream_factory(denoiser),
        record_turns=True,
    )
    session.start()
    update = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"noise_reduction": {"type": mode}}}},
    }
    session.receive_text(json.dumps(update))
    step = 40 * PCM16_24K.bytes_per_ms
    for i in range(0, len(audio), step):
        session.receive_audio(audio[i : i + step])
        while (request := session.frames_to_score()) is not None:
            session.receive_scores(model.score_sequence(request.frames, request.state, request.sample_rate))
    in_session = turns_from_log(session.turn_log, PCM16_24K.sample_rate)

    raw = score_with_denoise(model, audio, PCM16_24K, None)
    cleaned = score_with_denoise(model, audio, PCM16_24K, DenoiseStream(denoiser, MIX_RATE, mode))
    replayed = run_detector(cleaned, TurnDetectionConfig(), raw).turns
    assert in_session and replayed[: len(in_session)] == in_session
    alone = run_detector(cleaned, TurnDetectionConfig()).turns
    assert alone[0].onset < 6.0 < in_session[0].onset  # the street noise: a turn only without it


@pytest.mark.timeout(900)
def test_eval_noisy_prints_the_wer_of_the_same_mixes_turn_by_turn_and_whole_file(tmp_path: Path) -> None:
    """On a folder with transcripts.csv, ``eval --conditions noisy`` prints the WER table too."""
    pytest.importorskip("faster_whisper")
    source = DATA_DIR / "librispeech-dev"
    if not source.is_dir():
        read_audio("librispeech-dev", "1089-134686-0002.wav")  # skips, or fails in CI
    speech = tmp_path / "librispeech-dev"
    speech.mkdir()
    name = "1089-134686-0002.wav"
    (speech / name).symlink_to(source / name)
    (speech / "speech_segments.csv").write_bytes((source / "speech_segments.csv").read_bytes())
    (speech / "transcripts.csv").write_text(
        "file,text\n"
        + next(line for line in (source / "transcripts.csv").read_text().splitlines() if name in line)
    )
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    (noise_dir / "godot_glass_breaking.wav").symlink_to(
        DATA_DIR / "nonspeech-dev" / "godot_glass_breaking.wav"
    )
    (noise_dir / "speech_segments.csv").write_text("file,start_s,end_s\n")
    command = [sys.executable, "-m", "openapiopenai", "eval", str(speech), "--conditions", "noisy"]
    command += ["--noise-dir", str(noise_dir), "--no-progress"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
    text = out.stdout
    assert "word error rate, librispeech-dev in the same noise" in text
    table = text[text.index("word error rate") :].splitlines()[1:]
    settings = ("off", "near_field", "far_field")
    assert table[0].split() == [
        "condition",
        *(w for kind in ("turns", "whole") for s in settings for w in (kind, s)),
    ]
    rows = {" ".join(line.split()[:-6]): line.split()[-6:] for line in table[1:5]}
    assert list(rows) == ["0 dB", "5 dB", "10 dB", "clean"]
    assert all(0.0 <= float(v) <= 100.0 for values in rows.values() for v in values)
    assert float(rows["clean"][0]) < 30.0  # a clean read sentence: tiny.en gets most of its words
