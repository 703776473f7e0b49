"""noise_reduction in the Session: the detectors hear denoised audio, the client gets back its own.

Real pieces throughout: Silero scores, RNNoise cleans; the audio is the repository's fixtures
(espeak-ng speech, and the seeded noise fixture of pink noise, hum and reversed-speech babble:
tools/make_fixtures.py), so these run without the shared recordings.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

import numpy as np
import pytest

from openapiopenai.audio.formats import PCM16_24K
from openapiopenai.audio.pipeline import AudioPipeline
from openapiopenai.denoise import Denoiser, DenoiseStream, Mode, load_denoiser, stream_factory
from openapiopenai.protocol.config import Features
from openapiopenai.protocol.ids import IdFactory
from openapiopenai.protocol.session import Session
from openapiopenai.turns import SpeechStarted, TurnDetectionConfig, TurnDetector
from openapiopenai.vad.base import FloatArray, SpeechModel
from openapiopenai.vad.silero import SileroModel
from tests.audio._data import NOISE, TWO_TURNS, fixture_at


@cache
def silero() -> SileroModel:
    return SileroModel()


@cache
def rnnoise() -> Denoiser:
    return load_denoiser("rnnoise")


def at_24k(name: str) -> np.ndarray:
    return fixture_at(name, 24_000)


@cache
def noisy_speech(noise_offset_s: float = 0.0, noise_gain: float = 1.0) -> bytes:
    """Two utterances with the noise fixture under them (from ``noise_offset_s`` into it, looped),
    as PCM16 24 kHz bytes."""
    speech = at_24k(TWO_TURNS)
    noise = np.resize(np.roll(at_24k(NOISE), -round(noise_offset_s * 24_000)), len(speech))
    noise *= noise_gain * np.sqrt(np.mean(speech**2) / np.mean(noise**2))
    mix = speech + noise
    mix *= 0.9 / max(1.0, float(np.abs(mix).max()))
    return np.clip(np.round(mix * 32767), -32768, 32767).astype("<i2").tobytes()


class Recording:
    """Silero, keeping every frame it was asked to score (what the detector heard), per model
    stream in order of first appearance."""

    def __init__(self, model: SpeechModel) -> None:
        self.model = model
        self.frames: list[FloatArray] = []
        self.streams: dict[int, list[FloatArray]] = {}

    def heard(self) -> list[FloatArray]:
        return [np.concatenate(frames) for frames in self.streams.values()]

    def run(self, session: Session) -> None:
        while (request := session.frames_to_score()) is not None:
            self.frames.append(request.frames)
            self.streams.setdefault(id(request.state), []).append(request.frames)
            session.receive_scores(
                self.model.score_sequence(request.frames, request.state, request.sample_rate)  # type: ignore[attr-defined]
            )


def new_session(mode: Mode | None, *, seed: int = 5, **kwargs: Any) -> Session:
    session = Session(
        silero(),
        ids=IdFactory(seed=seed),
        features=Features(noise_reduction=True),
        denoiser=stream_factory(rnnoise()),
        **kwargs,
    )
    session.start()
    if mode is not None:
        session.receive_text(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "audio": {"input": {"noise_reduction": {"type": mode}}}},
                }
            )
        )
    return session


def append(session: Session, audio: bytes) -> None:
    session.receive_text(
        json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()})
    )


def events(session: Session) -> list[dict[str, Any]]:
    return [json.loads(e) for e in session.events_to_send()]


def stream(session: Session, audio: bytes, recorder: Recording, chunk: int = 4_800) -> list[dict[str, Any]]:
    for i in range(0, len(audio), chunk):
        append(session, audio[i : i + chunk])
        recorder.run(session)
    return events(session)


def test_noise_reduction_is_off_by_default_and_the_denoiser_is_never_run() -> None:
    made: list[tuple[str, int]] = []
    factory = stream_factory(rnnoise())

    def counting(mode: Mode, rate: int) -> DenoiseStream:
        made.append((mode, rate))
        return factory(mode, rate)

    session = Session(
        silero(), ids=IdFactory(seed=5), features=Features(noise_reduction=True), denoiser=counting
    )
    session.start()
    (created,) = events(session)
    assert created["session"]["audio"]["input"]["noise_reduction"] is None
    recorder = Recording(silero())
    stream(session, noisy_speech(), recorder)
    assert made == []
    assert len(recorder.streams) == 1  # and no second model stream either


def test_the_detector_hears_denoised_audio_and_retrieve_returns_what_the_client_sent() -> None:
    audio = noisy_speech()
    recorder = Recording(silero())
    session = new_session("near_field")
    got = stream(session, audio, recorder)
    (updated,) = [e for e in got if e["type"] == "session.updated"]
    assert updated["session"]["audio"]["input"]["noise_reduction"] == {"type": "near_field"}
    committed = [e for e in got if e["type"] == "input_audio_buffer.committed"]
    stopped = [e for e in got if e["type"] == "input_audio_buffer.speech_stopped"]
    assert committed and len(stopped) == len(committed)

    # what was scored: the pipeline's frames with the denoise stage on the session's stream, and
    # the same frames without it on a second stream (the second opinion on each onset)
    heard, second = recorder.heard()
    stage = DenoiseStream(rnnoise(), 16_000, "near_field")
    denoised = AudioPipeline(PCM16_24K, 16_000, 512, denoise=stage).push(audio)
    raw = AudioPipeline(PCM16_24K, 16_000, 512).push(audio)
    n = len(heard)
    np.testing.assert_allclose(heard, denoised[:n], atol=1e-5)
    assert np.abs(heard - raw[:n]).max() > 0.05
    np.testing.assert_array_equal(second, raw[:n])

    # what the client gets back: the bytes it sent for that stretch, untouched
    item_id = committed[0]["item_id"]
    session.receive_text(json.dumps({"type": "conversation.item.retrieve", "item_id": item_id}))
    (retrieved,) = events(session)
    (part,) = retrieved["item"]["content"]
    returned = base64.b64decode(part["audio"])
    assert returned in audio and len(returned) > 24_000


def test_two_denoised_sessions_interleaved_give_the_same_events_as_each_alone() -> None:
    a, b = noisy_speech(), noisy_speech(3.0, 1.5)

    def alone(audio: bytes, mode: Mode) -> list[dict[str, Any]]:
        return stream(new_session(mode), audio, Recording(silero()))

    expected_a, expected_b = alone(a, "near_field"), alone(b, "far_field")
    sa, sb = new_session("near_field"), new_session("far_field")
    ra, rb = Recording(silero()), Recording(silero())
    got_a: list[dict[str, Any]] = []
    got_b: list[dict[str, Any]] = []
    for i in range(0, max(len(a), len(b)), 4_800):
        append(sa, a[i : i + 4_800])
        append(sb, b[i : i + 4_800])
        rb.run(sb)  # the other session's frames scored first
        ra.run(sa)
        got_a += events(sa)
        got_b += events(sb)
    assert got_a == expected_a
    assert got_b == expected_b
    assert any(e["type"] == "input_audio_buffer.committed" for e in got_a)


def test_turning_noise_reduction_off_restarts_detection_on_the_raw_audio() -> None:
    audio = noisy_speech()
    on = new_session("near_field")
    stream(on, audio[:48_000], Recording(silero()))
    on.receive_text(
        json.dumps(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": {"noise_reduction": None}}},
            }
        )
    )
    (updated,) = [e for e in events(on) if e["type"] == "session.updated"]
    assert updated["session"]["audio"]["input"]["noise_reduction"] is None
    after = Recording(silero())
    stream(on, audio[48_000:], after)
    raw = AudioPipeline(PCM16_24K, 16_000, 512).push(audio[48_000:])
    (heard,) = after.heard()  # one stream: no second opinion without noise reduction
    assert len(heard) == len(raw)
    np.testing.assert_array_equal(heard, raw)


@pytest.mark.parametrize("mode", ["near_field", "far_field"])
def test_turn_times_stay_on_the_input_timeline_with_the_denoiser_delay(mode: Mode) -> None:
    """Clean speech: the denoiser delays what the detector hears by 32 ms; the events' times
    must not move (the timeline is compensated, not shifted). Onset dating is off: it reads the
    probabilities before the crossing, which the cleaned audio may move by a frame."""
    speech = at_24k(TWO_TURNS)
    audio = np.clip(np.round(speech * 32767), -32768, 32767).astype("<i2").tobytes()
    crossing = TurnDetectionConfig(onset_lookback_ms=0)
    with_nr = stream(new_session(mode, turn_detection=crossing), audio, Recording(silero()))
    without = stream(new_session(None, turn_detection=crossing), audio, Recording(silero()))

    def times(evs: list[dict[str, Any]]) -> list[Any]:
        return [
            e.get("audio_start_ms", e.get("audio_end_ms"))
            for e in evs
            if e["type"].endswith(("speech_started", "speech_stopped"))
        ]

    a, b = times(with_nr), times(without)
    # the first turn edge (a clear onset) lands on the same frame: had the
    # delay not been compensated they would come a frame (32 ms) later
    assert a[0] == b[0]
    assert abs(a[-1] - b[-1]) <= 32  # the cleaned audio may move a later edge by a frame


def pcm16(samples: np.ndarray) -> bytes:
    return np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes()


@pytest.mark.parametrize("mode", ["near_field", "far_field"])
def test_noise_that_the_denoiser_makes_speech_like_starts_no_turn(mode: Mode) -> None:
    """The noise fixture (as real street ambience does): Silero hears no speech in it, but what
    RNNoise leaves of it (the babble's voice-band rhythm, without the pink noise and hum) scores
    as speech on its own. The second opinion (Silero on the same frames before the denoiser)
    must keep the session from starting turns on it."""
    audio = pcm16(at_24k(NOISE)[: 24_000 * 6])
    recorder = Recording(silero())
    got = stream(new_session(mode), audio, recorder)
    assert not [e for e in got if e["type"] == "input_audio_buffer.speech_started"]

    # the rule is what kept it quiet: the denoised frames alone would have started turns
    heard, second = recorder.heard()
    alone = TurnDetector(TurnDetectionConfig(), sample_rate=24_000, frame_length=768)
    scores = silero().score_sequence(heard, silero().new_state(16_000), 16_000)
    assert any(isinstance(e, SpeechStarted) for e in alone.push_many(scores.tolist()))
    raw_scores = silero().score_sequence(second, silero().new_state(16_000), 16_000)
    assert float(np.max(raw_scores)) < 0.35


def test_a_sound_starting_out_of_silence_is_not_taken_for_speech_while_denoising() -> None:
    """RNNoise lets a new sound through at full level for its first moments (it has not learnt
    it yet): noise entering after 1 s of silence (as a guitar's entry in nonspeech-dev does)
    scores as speech once denoised; the session starts no turn on it."""
    audio = pcm16(np.concatenate((np.zeros(24_000, np.float32), at_24k(NOISE))))
    for mode in ("near_field", "far_field"):
        recorder = Recording(silero())
        got = stream(new_session(mode), audio, recorder)
        assert not [e for e in got if e["type"] == "input_audio_buffer.speech_started"], mode
        heard, _ = recorder.heard()
        alone = TurnDetector(TurnDetectionConfig(), sample_rate=24_000, frame_length=768)
        scores = silero().score_sequence(heard, silero().new_state(16_000), 16_000)
        assert any(isinstance(e, SpeechStarted) for e in alone.push_many(scores.tolist())), mode


def test_the_second_opinion_scores_the_same_frames_on_its_own_stream_before_any_event() -> None:
    session = new_session("near_field")
    events(session)
    append(session, noisy_speech()[:48_000])  # 1 s
    first = session.frames_to_score()
    assert first is not None and not session.awaiting_second_opinion
    session.receive_scores(silero().score_sequence(first.frames, first.state, first.sample_rate))
    assert session.awaiting_second_opinion
    second = session.frames_to_score()
    assert second is not None and second.state is not first.state
    assert second.frames.shape == first.frames.shape
    assert session.frames_to_score() is None  # one request out at a time
    session.receive_scores(silero().score_sequence(second.frames, second.state, second.sample_rate))
    assert not session.awaiting_second_opinion
    assert session.frames_to_score() is None
