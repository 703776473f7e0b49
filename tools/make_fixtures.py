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


def espeak(text: str, voice: str = VOICE, speed: int = SPEED) -> tuple[Audio, int]:
    """One utterance from espeak-ng at its own rate, trimmed to where it is audible."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise SystemExit("espeak-ng not found: apt-get install -y espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "utterance.wav"
        subprocess.run([program, "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
        samples, rate = sf.read(wav, dtype="float32", always_2d=True)
    mono = samples[:, 0]
    audible = np.flatnonzero(np.abs(mono) > 0.01 * np.abs(mono).max())
    return mono[audible[0] : audible[-1] + 1], int(rate)


def peak_normalised(samples: Audio) -> Audio:
    """``samples`` scaled to the fixtures' peak level."""
    return (samples * (PEAK / np.abs(samples).max())).astype(np.float32)


def synthesise(text: str) -> tuple[Audio, int]:
    """One utterance from espeak-ng, trimmed to where it is audible, peak-normalised."""
    trimmed, rate = espeak(text)
    return peak_normalised(trimmed), rate


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


#: the noise fixture: what noise-reduction tests put under speech (no real recording needed)
NOISE_FILE = "noise_16k.wav"
NOISE_RATE, NOISE_S, NOISE_SEED = 16_000, 6.0, 16
#: RMS level of the written noise (-20 dBFS)
NOISE_RMS = 0.1
#: the babble's talkers: espeak-ng sentences played backwards (speech-like, no words)
BABBLE = (
    "The weather report says rain is coming later this afternoon.",
    "I think we should order more paper for the printer downstairs.",
    "Could you call me back when the meeting is over please.",
)


def make_noise() -> tuple[Audio, int]:
    """Seeded background noise that RNNoise attenuates: pink noise (broadband, stationary: fans,
    air conditioning, road), 0.3 of mains hum (50 Hz and harmonics: tonal, stationary) and 0.3 of
    babble (three espeak-ng sentences reversed, looped at seeded offsets: voice-band energy with
    a syllable's rhythm and no words), each at unit power before the weights. Measured when it
    was made: RNNoise pulls it down ~15 dB near_field (its limit 18), ~8 dB far_field (9), so
    both modes have work to do; Silero hears no speech in it (max 0.16), but scores what RNNoise
    leaves of the babble up to ~0.8 (the pink noise and hum go, the voice-band rhythm stays): the
    case the second opinion guards against, which real street noise also shows."""
    rate, n = NOISE_RATE, round(NOISE_S * NOISE_RATE)
    rng = np.random.default_rng(NOISE_SEED)

    def unit(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return x / float(np.sqrt(np.mean(np.square(x))))

    spectrum = np.fft.rfft(rng.standard_normal(n))
    pink = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.arange(len(spectrum)), 1)), n)
    t = np.arange(n) / rate
    hum = sum(
        a * np.sin(2 * np.pi * 50 * k * t + k) for k, a in ((1, 1.0), (2, 0.5), (3, 0.35), (5, 0.2), (7, 0.1))
    )
    babble = np.zeros(n)
    for text in BABBLE:
        talker, source_rate = synthesise(text)
        backwards = np.asarray(soxr.resample(talker, source_rate, rate), dtype=np.float64)[::-1]
        looped = np.tile(backwards, n // len(backwards) + 2)
        offset = int(rng.integers(len(backwards)))
        babble += unit(looped[offset : offset + n])
    noise = unit(pink) + 0.3 * unit(np.asarray(hum)) + 0.3 * unit(babble)
    return (NOISE_RMS * unit(noise)).astype(np.float32), rate


def write_noise() -> None:
    noise, rate = make_noise()
    OUT.mkdir(parents=True, exist_ok=True)
    sf.write(OUT / NOISE_FILE, np.clip(noise, -1.0, 1.0), rate, subtype="PCM_16")
    print(f"wrote {NOISE_FILE}, {(OUT / NOISE_FILE).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
    write_noise()
