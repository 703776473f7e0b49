"""Generate ``tests/fixtures/``: short synthetic English speech the repository carries.

The tests must run on a fresh clone, without the shared evaluation recordings, so the speech
they stream is synthesised here with ``espeak-ng`` (Debian: ``apt-get install espeak-ng``),
trimmed, resampled with soxr to the rates the tests need and written as PCM16 WAV, together
with ``speech_segments.csv`` (the same layout as the evaluation datasets) giving where each
utterance lies. The output is committed; rerun this only to change the fixtures:

    python tools/make_fixtures.py

espeak-ng output can differ between its versions, so regenerated files may differ slightly;
the tests depend on the labels written here, not on exact samples.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures"

FIRST = "Please turn on the kitchen lights."
SECOND = "And set a timer for ten minutes."
#: espeak-ng voice and speed (words per minute)
VOICE, SPEED = "en-us", 165
#: peak level of the written speech (about -6 dBFS)
PEAK = 0.5
#: silence kept before an utterance, so a detector's prefix padding has audio to include
LEAD_S = 0.3

Audio = npt.NDArray[np.float32]


def synthesise(text: str) -> tuple[Audio, int]:
    """One utterance from espeak-ng, trimmed to where it is audible, peak-normalised."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("espeak-ng not found: apt-get install -y espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "utterance.wav"
        subprocess.run([espeak, "-v", VOICE, "-s", str(SPEED), "-w", str(wav), text], check=True)
        samples, rate = sf.read(wav, dtype="float32", always_2d=True)
    mono = samples[:, 0]
    audible = np.flatnonzero(np.abs(mono) > 0.01 * np.abs(mono).max())
    trimmed = mono[audible[0] : audible[-1] + 1]
    return (trimmed * (PEAK / np.abs(trimmed).max())).astype(np.float32), int(rate)


def silence_s(seconds: float, rate: int) -> Audio:
    return np.zeros(round(seconds * rate), dtype=np.float32)


def compose(parts: list[tuple[str, Audio | float]], rate: int) -> tuple[Audio, list[tuple[float, float]]]:
    """Concatenate utterances and silences; the utterances' (start_s, end_s) are the labels."""
    pieces: list[Audio] = []
    labels: list[tuple[float, float]] = []
    position = 0
    for kind, part in parts:
        audio = silence_s(part, rate) if isinstance(part, float) else part
        if kind == "speech":
            labels.append((position / rate, (position + len(audio)) / rate))
        pieces.append(audio)
        position += len(audio)
    return np.concatenate(pieces), labels


def main() -> None:
    first, source_rate = synthesise(FIRST)
    second, _ = synthesise(SECOND)
    clips = {
        # one utterance and no silence after it: the turn is still open at the end
        "speech": [("silence", LEAD_S), ("speech", first)],
        # one utterance, then 1.5 s of silence: a complete turn
        "speech_then_silence": [("silence", LEAD_S), ("speech", second), ("silence", 1.5)],
        # two utterances 1.5 s apart, then silence: two turns at the default 500 ms silence window
        "two_turns": [
            ("silence", LEAD_S),
            ("speech", first),
            ("silence", 1.5),
            ("speech", second),
            ("silence", 0.7),
        ],
    }
    #: clip -> rates written (24 kHz: what a Realtime client streams; 16 kHz: what models score;
    #: 8 kHz: telephony, G.711)
    rates = {"speech": (24_000, 8_000), "speech_then_silence": (24_000,), "two_turns": (16_000,)}
    OUT.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, float, float]] = []
    for clip, parts in clips.items():
        for rate in rates[clip]:
            resampled = [
                (kind, part if isinstance(part, float) else soxr.resample(part, source_rate, rate))
                for kind, part in parts
            ]
            audio, labels = compose(resampled, rate)  # type: ignore[arg-type]
            name = f"{clip}_{rate // 1000}k.wav"
            sf.write(OUT / name, np.clip(audio, -1.0, 1.0), rate, subtype="PCM_16")
            rows += [(name, round(start, 3), round(end, 3)) for start, end in labels]
    with (OUT / "speech_segments.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "start_s", "end_s"])
        writer.writerows(rows)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total / 1024:.0f} KiB, to {OUT}")


if __name__ == "__main__":
    main()
