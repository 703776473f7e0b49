"""Our numpy Whisper log-mel against a reference computed once by an independent implementation.

The reference ``tests/fixtures/whisper_mel_complete_sentence.npy`` and its input
``tests/fixtures/complete_sentence_16k.wav`` (2 s of espeak-ng speech, committed) are both written by
``tools/make_semantic_fixtures.py``: faster-whisper's ``FeatureExtractor`` (numpy, float32; n_fft 400,
hop 160, 80 Slaney mel bins, chunk_length 8, ``padding=0``) on the file's samples left zero-padded
to 8 s and normalised to zero mean / unit variance (float64, eps 1e-7), as Smart Turn's features are.
Measured: max |ours - reference| = 4.0e-6 (float32 rounding in the reference); the same recipe
reproduces the earlier transformers `WhisperFeatureExtractor(do_normalize=True)` reference on a
LibriSpeech file to 7.2e-6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openapiopenai.audio.whisper_mel import (
    N_FRAMES,
    N_MELS,
    WINDOW_SAMPLES,
    last_window,
    log_mel,
    mel_filters,
)
from tests.audio._data import COMPLETE_SENTENCE, fixture_audio

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "whisper_mel_complete_sentence.npy"


def test_log_mel_matches_an_independent_whisper_feature_extractor_on_speech() -> None:
    audio, rate = fixture_audio(COMPLETE_SENTENCE)
    assert rate == 16_000
    reference = np.load(FIXTURE)
    features = log_mel(audio)
    assert features.shape == (N_MELS, N_FRAMES) == reference.shape
    assert features.dtype == np.float64
    np.testing.assert_allclose(features, reference, atol=5e-5)


def test_only_the_last_eight_seconds_count() -> None:
    rng = np.random.default_rng(1)
    tail = rng.standard_normal(WINDOW_SAMPLES) * 0.1
    longer = np.concatenate([rng.standard_normal(3000), tail])
    np.testing.assert_array_equal(log_mel(longer), log_mel(tail))


def test_short_audio_is_left_padded_with_zeros() -> None:
    window = last_window(np.ones(10, dtype=np.float32))
    assert window.shape == (WINDOW_SAMPLES,)
    assert window.dtype == np.float64
    assert not window[:-10].any() and (window[-10:] == 1.0).all()


def test_mel_filters_are_slaney_area_normalised_triangles() -> None:
    filters = mel_filters()
    assert filters.shape == (201, N_MELS)
    assert (filters >= 0).all() and (filters.max(axis=0) > 0).all()
    peaks = filters.argmax(axis=0)
    assert (np.diff(peaks) >= 0).all()  # centres rise with the band index


def test_dynamic_range_is_clamped_to_eight_decades() -> None:
    audio = np.sin(np.arange(WINDOW_SAMPLES) * 2 * np.pi * 440 / 16_000)
    features = log_mel(audio)
    assert features.max() - features.min() <= 8.0 / 4.0 + 1e-12
