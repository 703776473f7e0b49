"""Generate the semantic_vad fixtures in ``tests/fixtures/``: espeak-ng sentences the end-of-turn
model (Smart Turn v3.2) judges clear-cut, and the Whisper log-mel reference of one of them.

    python tools/make_semantic_fixtures.py

Like ``tools/make_fixtures.py`` (whose trimming and level this reuses), the output is committed
and the tests run on a fresh clone without the shared recordings. Each clip is 0.3 s of silence,
then one utterance trimmed to where it is audible, nothing after it: the speech ends at the end of
the file, and tests append the silence they need.

The sentences and voices were picked with the real model from a sweep of 7 sentences x 4 voices
x 2 speeds (see ``tests/vad/test_smart_turn.py`` for the scores). Cutting an espeak sentence's
waveform mid-way does *not* work: the model scores such cuts ~0.99 ("complete"), so the
unfinished clip is a phrase synthesised on its own that stops on a function word.

The reference ``whisper_mel_complete_sentence.npy`` is computed by an independent implementation,
faster-whisper's ``FeatureExtractor`` (numpy, float32), on the clip as Smart Turn sees it: the last
8 s left zero-padded, normalised to zero mean and unit variance (float64, eps 1e-7), no extra
padding (801 frames, the last dropped by that extractor, leaving 800). The test compares our float64
:func:`openapiopenai.audio.whisper_mel.log_mel` to it. faster-whisper is only needed here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import LEAD_S, OUT, espeak, peak_normalised

RATE = 16_000
#: clip -> (text, espeak-ng voice, words per minute)
CLIPS: dict[str, tuple[str, str, int]] = {
    # a complete request, falling intonation: P(complete) >= 0.98 after 0.2-2.7 s of silence
    "complete_sentence_16k.wav": ("Please turn on the kitchen lights.", "en-us+f3", 160),
    # an unfinished thought ending on "that": P(complete) <= 0.05 after 0.2-2.7 s of silence
    "unfinished_sentence_16k.wav": ("So what I was thinking is that", "en-us", 160),
    # what the unfinished thought goes on with, after a pause
    "sentence_rest_16k.wav": ("we should leave early because of the traffic.", "en-us", 160),
}
MEL_REFERENCE = "whisper_mel_complete_sentence.npy"

Audio = npt.NDArray[np.float32]


def synthesise(text: str, voice: str, speed: int) -> Audio:
    """One utterance at 16 kHz, trimmed to where it is audible, peak-normalised."""
    trimmed, rate = espeak(text, voice, speed)
    return peak_normalised(np.asarray(soxr.resample(trimmed, rate, RATE), dtype=np.float32))


def mel_reference(audio: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """faster-whisper's log-mel of the last 8 s, normalised as Smart Turn's features are."""
    from faster_whisper.feature_extractor import FeatureExtractor

    window = 8 * RATE
    x = np.concatenate([np.zeros(max(0, window - audio.size)), audio[-window:]])
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    features = FeatureExtractor(
        feature_size=80, sampling_rate=RATE, hop_length=160, chunk_length=8, n_fft=400
    )(x.astype(np.float32), padding=0)
    reference: npt.NDArray[np.float32] = np.asarray(features, dtype=np.float32)
    return reference


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (text, voice, speed) in CLIPS.items():
        audio = np.concatenate(
            [np.zeros(round(LEAD_S * RATE), dtype=np.float32), synthesise(text, voice, speed)]
        )
        sf.write(OUT / name, np.clip(audio, -1.0, 1.0), RATE, subtype="PCM_16")
    # the reference is computed from the file as written (PCM16), exactly what the test reads
    written, _ = sf.read(OUT / "complete_sentence_16k.wav", dtype="float64")
    np.save(OUT / MEL_REFERENCE, mel_reference(written))
    print(f"wrote {', '.join([*CLIPS, MEL_REFERENCE])} to {OUT}")


if __name__ == "__main__":
    main()
