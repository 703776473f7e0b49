"""Our numpy Whisper log-mel against a reference computed once with transformers'
``WhisperFeatureExtractor`` (8 s window, ``do_normalize=True``; fixture in tests/fixtures)."""

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
from tests._librispeech import libri_audio

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "whisper_mel_1089-134686-0002_5s.npy"


def test_log_mel_matches_the_whisper_feature_extractor_on_real_speech() -> None:
    audio, rate = libri_audio("1089-134686-0002.wav")
    assert rate == 16_000
    reference = np.load(FIXTURE)
    features = log_mel(audio[: 5 * rate])
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
