"""Study: what separates false starts on non-speech from real turns (issue 12).

    python bench/false_starts.py [--conditions clean,pcmu]

For every turn of our default detector on the speech sets (``pyannote-ami-debug``,
``ten-vad-testset``, ``librispeech-dev``) and on ``nonspeech-dev`` (every turn there is a false
start), it measures candidate features over the turn's first 200 ms of model-rate audio and prints,
for a sweep of each candidate rule, the false starts left on the non-speech set beside the true
turns lost (turns that overlapped speech and would be suppressed) on the speech sets:

* ``min_speech_ms``: continuous speech (under hysteresis) before the start: exact, by re-running
  the detector with ``min_speech_duration_ms`` on the recorded probabilities;
* ``level``: mean RMS level (dBFS) of the turn's first 200 ms;
* ``flatness``: median spectral flatness (100 Hz - 4 kHz) per 32 ms frame: noise is flat;
* ``harmonicity``: median peak of the normalised autocorrelation at pitch lags (60-400 Hz);
* ``pitch_var``: spread (semitones, std) of the per-frame pitch over voiced frames: sung or
  played notes hold a pitch, speech glides;
* ``webrtc``: fraction of webrtcvad (mode 3) speech frames in the same 200 ms;
* ``peak_p``: the highest Silero probability in the turn's first 200 ms;
* ``other_head``: the same, from Silero's other head (8 kHz for 16 kHz sessions, 16 kHz for G.711):
  a second opinion from a differently trained input path.

The post-hoc rules drop a whole turn (a gate at the start would behave the same for the first
200 ms). Each file is a fresh session (model state reset per file).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

from _study import study_args
from openapiopenai.audio.formats import decode
from openapiopenai.evaluation.datasets import load_dataset, read_mono
from openapiopenai.evaluation.metrics import TurnStats
from openapiopenai.evaluation.runner import CONDITIONS, run_detector, run_session, wire_bytes
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.base import SpeechModel, score_stream
from openapiopenai.vad.registry import load_model

SPEECH = ("pyannote-ami-debug", "ten-vad-testset", "librispeech-dev")
NONSPEECH = "nonspeech-dev"
RATE = 16_000
WINDOW_S = 0.2


@dataclass
class TurnFeatures:
    dataset: str
    file: str
    onset: float
    real: bool  # overlaps labelled speech
    level: float
    flatness: float
    harmonicity: float
    pitch_var: float
    webrtc: float
    peak_p: float
    other_head: float


def frame_features(x: np.ndarray) -> tuple[float, float, float]:
    """(flatness, harmonicity, pitch in Hz or 0) of one 32 ms frame at 16 kHz."""
    w = x * np.hanning(len(x))
    spec = np.abs(np.fft.rfft(w)) ** 2 + 1e-12
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    band = spec[(freqs >= 100) & (freqs <= 4000)]
    flatness = float(np.exp(np.mean(np.log(band))) / np.mean(band))
    x = x - x.mean()
    ac = np.correlate(x, x, "full")[len(x) - 1 :]
    if ac[0] <= 1e-9:
        return flatness, 0.0, 0.0
    ac = ac / ac[0]
    lo, hi = RATE // 400, RATE // 60
    lag = lo + int(np.argmax(ac[lo:hi]))
    h = float(ac[lag])
    return flatness, h, RATE / lag if h > 0.5 else 0.0


def features(audio16: np.ndarray, onset: float) -> tuple[float, float, float, float]:
    a = int(onset * RATE)
    n = 512
    frames = [audio16[i : i + n] for i in range(a, a + int(WINDOW_S * RATE), n) if i + n <= len(audio16)]
    if not frames:
        return -120.0, 1.0, 0.0, 0.0
    level = float(10 * np.log10(np.mean(np.concatenate(frames) ** 2) + 1e-12))
    f = np.array([frame_features(fr) for fr in frames])
    pitches = f[:, 2][f[:, 2] > 0]
    var = float(np.std(12 * np.log2(pitches))) if len(pitches) >= 2 else 0.0
    return level, float(np.median(f[:, 0])), float(np.median(f[:, 1])), var


def other_head(model: SpeechModel, audio16: np.ndarray, wire_rate: int) -> tuple[np.ndarray, float]:
    """Probabilities of Silero's other head over the whole stream, and its frame length (s): the
    session scores G.711 (8 kHz on the wire) with the 8 kHz head and everything else at 16 kHz."""
    rate = RATE if wire_rate == 8_000 else 8_000
    audio = audio16 if rate == RATE else soxr.resample(audio16, RATE, rate).astype(np.float32)
    n = model.frame_samples(rate)
    frames = audio[: len(audio) // n * n].reshape(-1, n)
    return score_stream(model, frames, model.new_state(rate), rate), n / rate


def main() -> None:
    args = study_args(__doc__, "clean,pcmu")
    silero, webrtc = load_model("silero"), load_model("webrtc", mode=3)
    config = TurnDetectionConfig()
    for condition in args.conditions.split(","):
        fmt = CONDITIONS[condition]
        rows: list[TurnFeatures] = []
        min_speech: dict[int, dict[str, int]] = {}
        for name in (*SPEECH, NONSPEECH):
            for file in load_dataset(args.data + name).files:
                samples, rate = read_mono(file.path)
                audio = wire_bytes(samples, rate, fmt)
                run = run_session(silero, audio, fmt, config)
                web = run_session(webrtc, audio, fmt, config).scored
                audio16 = soxr.resample(decode(fmt, audio), fmt.sample_rate, RATE).astype(np.float32)
                p, fs = run.scored.probabilities, run.scored.frame_s
                p2, fs2 = other_head(silero, audio16, fmt.sample_rate)
                for t in run.turns:
                    real = any(t.onset < e and t.end > s for s, e in file.speech)
                    level, flat, harm, pvar = features(audio16, t.onset)
                    a, b = int(t.onset / fs), int((t.onset + WINDOW_S) / fs) + 1
                    wa, wb = int(t.onset / web.frame_s), int((t.onset + WINDOW_S) / web.frame_s) + 1
                    agree = float(np.mean(web.probabilities[wa:wb] >= 0.5)) if wb > wa else 0.0
                    rows.append(
                        TurnFeatures(
                            name,
                            file.path.name,
                            t.onset,
                            real,
                            level,
                            flat,
                            harm,
                            pvar,
                            agree,
                            float(p[a:b].max()),
                            float(p2[int(t.onset / fs2) : int((t.onset + WINDOW_S) / fs2) + 1].max()),
                        )
                    )
                for ms in (0, 64, 96, 128, 160, 200, 250, 300):
                    stats = TurnStats()
                    replay = run_detector(run.scored, config.merged(min_speech_duration_ms=ms))
                    stats.add(
                        replay.turns, file.speech, run.scored.duration_s, config.silence_duration_ms / 1000
                    )
                    tally = min_speech.setdefault(ms, {"fs": 0, "missed": 0, "turns": 0})
                    if name == NONSPEECH:
                        tally["fs"] += stats.false_starts
                    else:
                        tally["missed"] += stats.missed
                        tally["turns"] += stats.true_turns
        print(f"\n== {condition}: false starts on {NONSPEECH} (fresh state per file)")
        for r in rows:
            if not r.real:
                print(
                    f"  {r.dataset:20s} {r.file:36s} t={r.onset:5.2f}s level={r.level:6.1f} "
                    f"flat={r.flatness:.3f} harm={r.harmonicity:.2f} pitchvar={r.pitch_var:4.1f} "
                    f"webrtc={r.webrtc:.2f} peak={r.peak_p:.2f} other_head={r.other_head:.2f}"
                )
        print("min_speech_duration_ms sweep (exact): ms, false starts on non-speech, true turns missed / of")
        for ms, tally in min_speech.items():
            print(f"  {ms:4d} ms: FS {tally['fs']:3d}   missed {tally['missed']:3d} / {tally['turns']}")
        real = [r for r in rows if r.real and r.dataset != NONSPEECH]
        false = [r for r in rows if not r.real]
        print(f"post-hoc gates over {len(real)} real turns and {len(false)} false starts:")
        for feat, direction in (
            ("level", ">="),
            ("flatness", "<="),
            ("harmonicity", ">="),
            ("pitch_var", ">="),
            ("webrtc", ">="),
            ("peak_p", ">="),
            ("other_head", ">="),
        ):
            values = sorted({round(getattr(r, feat), 3) for r in false})
            for v in values:
                # a gate "keep if feature passes v", tightened just past each false start's value
                if direction == ">=":
                    kept_false = sum(1 for r in false if getattr(r, feat) > v)
                    lost = sum(1 for r in real if not getattr(r, feat) > v)
                else:
                    kept_false = sum(1 for r in false if getattr(r, feat) < v)
                    lost = sum(1 for r in real if not getattr(r, feat) < v)
                print(
                    f"  {feat:12s} keep if {direction[0]} {v:8.3f}: "
                    f"FS left {kept_false:3d}, real turns lost {lost:3d}"
                )


if __name__ == "__main__":
    main()
