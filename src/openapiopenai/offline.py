"""The synchronous driver: audio in, Realtime server events out, no server needed.

It runs the very same :class:`~openapiopenai.protocol.session.Session` the server runs and
scores its frames inline, so a file gives exactly the events a client streaming it would
receive. Given a :class:`~openapiopenai.asr.Transcriber`, it also answers the Session's
transcription requests inline (the server's pool does the same off its event loop), so each
committed turn gets its ``...input_audio_transcription`` events and a transcript. Used by
``openapiopenai detect``, the evaluation harness and the tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from openapiopenai.audio.analysis import analysis_audio
from openapiopenai.audio.formats import PCM16_24K, AudioFormat
from openapiopenai.models import RealtimeModel
from openapiopenai.protocol import errors
from openapiopenai.protocol.config import Features
from openapiopenai.protocol.ids import IdFactory
from openapiopenai.protocol.session import Session, SessionLimits
from openapiopenai.protocol.work import TranscriptionRequest
from openapiopenai.turns.config import SemanticVadConfig, TurnDetectionConfig
from openapiopenai.turns.detector import SpeechStarted, SpeechStopped, TurnEvent
from openapiopenai.vad.base import SpeechModel, score_stream
from openapiopenai.vad.registry import AUTO, load_model

if TYPE_CHECKING:
    from openapiopenai.asr import Transcriber
    from openapiopenai.server.turn_end import EndOfTurnModel

#: append size when feeding whole files (the events do not depend on it): 8192 ms is 256 Silero
#: frames, one block-graph call (``SileroModel.block_frames``); 1000 ms appends ran ~1.5x slower
DEFAULT_CHUNK_MS = 8192
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
    #: what was said in the turn, when the detector transcribes
    text: str | None = None


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
        transcriber: Transcriber | None = None,
        transcription: dict[str, object] | None = None,
        end_of_turn: EndOfTurnModel | None = None,
    ) -> None:
        self.model = load_model(model) if isinstance(model, str) else model
        self.config = config or TurnDetectionConfig()
        self.input_format = input_format
        self.transcriber = transcriber
        #: transcripts of the committed items, in commit order ("" when an item failed)
        self.transcripts: dict[str, str] = {}
        semantic = isinstance(self.config, SemanticVadConfig)
        #: semantic_vad's end-of-turn model, asked synchronously (Smart Turn unless given)
        self.end_of_turn = end_of_turn
        if semantic and end_of_turn is None:
            from openapiopenai.vad.smart_turn import SmartTurnModel

            self.end_of_turn = SmartTurnModel()
        unlimited = SessionLimits(
            max_buffer_bytes=2**62, max_retained_audio_bytes=0, max_pending_transcriptions=2**31
        )
        self.session = Session(
            self.model,
            ids=ids or IdFactory(seed=0),
            turn_detection=self.config.vad if isinstance(self.config, SemanticVadConfig) else self.config,
            limits=unlimited,
            record_turns=True,
            features=Features(transcription=transcriber is not None, semantic_vad=semantic),
        )
        self.session.start()
        audio_input: dict[str, object] = {}
        if input_format != PCM16_24K:
            audio_input["format"] = {"type": input_format.ga_type}
        if transcriber is not None:
            # the client's own settings ({model, language, prompt}) when given, else the engine's name
            audio_input["transcription"] = transcription or {"model": transcriber.name}
        if isinstance(self.config, SemanticVadConfig):
            audio_input["turn_detection"] = {"type": "semantic_vad", "eagerness": self.config.eagerness}
        if audio_input:
            self.send(
                {"type": "session.update", "session": {"type": "realtime", "audio": {"input": audio_input}}}
            )
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
            self._work()
        self._work()
        return self.session.drain_events()

    def _work(self) -> None:
        """Answer the Session's work requests inline (the server runs them in its pools): end-of-turn
        questions at once, so a file's events do not depend on CPU speed."""
        while work := self.session.work_to_do():
            for request in work:
                if isinstance(request, TranscriptionRequest):
                    self._transcribe(request)
                else:  # without an end-of-turn model, "no answer" falls back on silence
                    model = self.end_of_turn
                    p = None if model is None else model.predict(analysis_audio(request.audio))
                    self.session.receive_turn_end(request.query, p)

    def _transcribe(self, request: TranscriptionRequest) -> None:
        from openapiopenai.asr import TranscriptionOptions

        item = request.item_id
        if self.transcriber is None:
            self.session.receive_transcript_failed(item, "No transcriber.", errors.TRANSCRIPTION_FAILED)
            return
        from openapiopenai.asr import recent_context

        context = recent_context(self.transcripts.values())
        options = TranscriptionOptions(request.language, request.prompt, request.logprobs, context)
        parts: list[str] = []
        try:
            for piece in self.transcriber.transcribe(analysis_audio(request.audio), options):
                parts.append(piece.text)
                wire = [dict(lp) for lp in piece.logprobs] if piece.logprobs is not None else None
                self.session.receive_transcript_delta(item, piece.text, wire)
        except Exception as exc:  # the item fails, the detector goes on (as in the server)
            self.transcripts[item] = ""
            message = f"Transcription failed: {exc}"
            self.session.receive_transcript_failed(item, message, errors.TRANSCRIPTION_FAILED)
            return
        self.transcripts[item] = "".join(parts)
        self.session.receive_transcript_done(item)

    def flush(self) -> list[RealtimeModel]:
        """End of input: close a turn in progress (``speech_stopped`` + commit)."""
        self.session.finish_turn()
        self._work()
        return self.session.drain_events()

    def segments(self, pad_ms: int = DEFAULT_SEGMENT_PAD_MS) -> list[Segment]:
        """The turns so far as speech segments (seconds on the input timeline), each widened by
        ``pad_ms`` on both sides within the audio heard (0: the detector's exact boundaries), and
        with its transcript when the detector transcribes (turns are committed, hence
        transcribed, in order)."""
        segments = segments_from_turns(self.session.turn_log, self.input_format.sample_rate)
        segments = pad_segments(segments, pad_ms / 1000, self.session.audio_position_ms / 1000)
        if self.transcriber is None:
            return segments
        texts = list(self.transcripts.values())
        return [
            Segment(seg.start_s, seg.end_s, texts[i] if i < len(texts) else None)
            for i, seg in enumerate(segments)
        ]


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
