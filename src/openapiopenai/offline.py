"""The synchronous driver: audio in, Realtime server events out, no server needed.

It runs the very same :class:`~openapiopenai.protocol.session.Session` the server runs and
scores its frames inline, so a file gives exactly the events a client streaming it would
receive. Used by ``openapiopenai detect``, the evaluation harness and the tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from openapiopenai.audio.formats import PCM16_24K, AudioFormat
from openapiopenai.models import RealtimeModel
from openapiopenai.protocol.config import Features
from openapiopenai.protocol.ids import IdFactory
from openapiopenai.protocol.session import Session, SessionLimits
from openapiopenai.protocol.work import TurnEndRequest
from openapiopenai.server.turn_end import EndOfTurnModel, analysis_audio
from openapiopenai.turns.config import SemanticVadConfig, TurnDetectionConfig
from openapiopenai.turns.detector import SpeechStarted, SpeechStopped, TurnEvent
from openapiopenai.vad.base import SpeechModel, score_stream
from openapiopenai.vad.registry import AUTO, load_model

#: bytes per append when feeding whole files (the events do not depend on it)
DEFAULT_CHUNK_MS = 1000
#: semantic_vad: audio per step when feeding, so each question is answered where it was asked
SEMANTIC_STEP_MS = 10
#: Padding on each side of a segment for people (:meth:`Detector.segments`, ``detect --output
#: segments``), like Silero's ``speech_pad_ms``; wire events keep their own rules. 30 ms was best
#: on precisely labelled speech and helps on coarse labels (``docs/evaluation-results.md``).
DEFAULT_SEGMENT_PAD_MS = 30


@dataclass(frozen=True, slots=True)
class Segment:
    """One turn as speech boundaries (seconds): padding and the silence window removed."""

    start_s: float
    end_s: float


class Detector:
    """Turn detection as a library: ``feed`` audio bytes, get Realtime server events.

    >>> detector = Detector()                       # Silero, Realtime defaults, audio/pcm 24 kHz
    >>> events = detector.feed(pcm16_bytes)         # doctest: +SKIP
    >>> events += detector.flush()                  # doctest: +SKIP
    """

    def __init__(
        self,
        config: TurnDetectionConfig | SemanticVadConfig | None = None,
        *,
        model: str | SpeechModel = AUTO,
        input_format: AudioFormat = PCM16_24K,
        ids: IdFactory | None = None,
        end_of_turn: EndOfTurnModel | None = None,
    ) -> None:
        self.model = load_model(model) if isinstance(model, str) else model
        self.config = config or TurnDetectionConfig()
        self.input_format = input_format
        semantic = isinstance(self.config, SemanticVadConfig)
        #: semantic_vad's end-of-turn model, asked synchronously (Smart Turn unless given)
        self.end_of_turn = end_of_turn
        if semantic and end_of_turn is None:
            from openapiopenai.vad.smart_turn import SmartTurnModel

            self.end_of_turn = SmartTurnModel()
        unlimited = SessionLimits(max_buffer_bytes=2**62, max_retained_audio_bytes=0)
        self.session = Session(
            self.model,
            ids=ids or IdFactory(seed=0),
            turn_detection=self.config.vad if isinstance(self.config, SemanticVadConfig) else self.config,
            limits=unlimited,
            record_turns=True,
            features=Features(semantic_vad=semantic),
        )
        self.session.start()
        update: dict[str, object] = {}
        if input_format != PCM16_24K:
            update["format"] = {"type": input_format.ga_type}
        if isinstance(self.config, SemanticVadConfig):
            update["turn_detection"] = {"type": "semantic_vad", "eagerness": self.config.eagerness}
        if update:
            self.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": update}}})
        self.session.drain_events()  # session.created / session.updated: not turn events

    def send(self, event: dict[str, object]) -> list[RealtimeModel]:
        """Send one client event (as the wire would carry it) and run scoring to completion."""
        self.session.receive_text(json.dumps(event))
        return self._score()

    def feed(self, audio: bytes) -> list[RealtimeModel]:
        """Append raw audio in the input format; returns the events it caused.

        With semantic_vad the audio goes in 10 ms at a time, each question answered before the
        next piece, as if the model answered instantly: the events do not depend on chunking."""
        if self.end_of_turn is None:
            self.session.receive_audio(audio)
            return self._score()
        events: list[RealtimeModel] = []
        for piece in chunked(audio, SEMANTIC_STEP_MS * self.input_format.bytes_per_ms):
            self.session.receive_audio(piece)
            events += self._score()
        return events

    def _score(self) -> list[RealtimeModel]:
        while (request := self.session.frames_to_score()) is not None:
            scores = score_stream(self.model, request.frames, request.state, request.sample_rate)
            self.session.receive_scores(scores)
            self._answer_work()
        return self.session.drain_events()

    def _answer_work(self) -> None:
        """End-of-turn questions answered at once, so a file's events do not depend on CPU speed."""
        while work := [w for w in self.session.work_to_do() if isinstance(w, TurnEndRequest)]:
            for request in work:
                model = self.end_of_turn
                p = None if model is None else model.predict(analysis_audio(request.audio))
                self.session.receive_turn_end(request.query, p)

    def flush(self) -> list[RealtimeModel]:
        """End of input: close a turn in progress (``speech_stopped`` + commit)."""
        self.session.finish_turn()
        return self.session.drain_events()

    def segments(self, pad_ms: int = DEFAULT_SEGMENT_PAD_MS) -> list[Segment]:
        """The turns so far as speech segments (seconds on the input timeline), each widened by
        ``pad_ms`` on both sides within the audio heard (0: the detector's exact boundaries)."""
        segments = segments_from_turns(self.session.turn_log, self.input_format.sample_rate)
        return pad_segments(segments, pad_ms / 1000, self.session.audio_position_ms / 1000)


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def detect_bytes(
    audio: bytes,
    config: TurnDetectionConfig | None = None,
    *,
    model: str | SpeechModel = AUTO,
    input_format: AudioFormat = PCM16_24K,
    chunk_ms: int = DEFAULT_CHUNK_MS,
) -> list[RealtimeModel]:
    """All turn events for ``audio`` (raw bytes in ``input_format``), as a client would get them."""
    detector = Detector(config, model=model, input_format=input_format)
    events: list[RealtimeModel] = []
    for chunk in chunked(audio, max(1, chunk_ms * input_format.bytes_per_ms)):
        events += detector.feed(chunk)
    return events + detector.flush()


def segments_from_turns(turns: Iterable[TurnEvent], sample_rate: int) -> list[Segment]:
    """Speech boundaries (``evaluation.md``): onset of the first speech frame to the end of the
    last one, without the prefix padding and the silence window."""
    segments: list[Segment] = []
    onset: int | None = None
    for turn in turns:
        if isinstance(turn, SpeechStarted):
            onset = turn.onset
        elif isinstance(turn, SpeechStopped) and onset is not None:
            segments.append(Segment(onset / sample_rate, turn.speech_end / sample_rate))
            onset = None
    return segments


def pad_segments(segments: list[Segment], pad_s: float, end_s: float) -> list[Segment]:
    """Each segment widened by ``pad_s`` on both sides, within ``[0, end_s]``; where two padded
    segments would overlap, the gap between them is split at its middle (as Silero does)."""
    out: list[Segment] = []
    for i, segment in enumerate(segments):
        start = max(0.0, segment.start_s - pad_s)
        end = min(end_s, segment.end_s + pad_s) if end_s > segment.end_s else segment.end_s
        if i and start < out[-1].end_s:
            middle = (segments[i - 1].end_s + segment.start_s) / 2
            out[-1] = Segment(out[-1].start_s, max(middle, segments[i - 1].end_s))
            start = min(middle, segment.start_s)
        out.append(Segment(start, end))
    return out


def read_audio(path: str | Path, sample_rate: int) -> npt.NDArray[np.float32]:
    """Any file soundfile reads (wav/flac/ogg, any rate), as mono float32 at ``sample_rate``."""
    import soundfile
    import soxr

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1, dtype=np.float32)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate).astype(np.float32)
    return np.ascontiguousarray(mono, dtype=np.float32)
