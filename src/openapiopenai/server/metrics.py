"""Prometheus metrics, one registry per app (several apps in one process never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
TRANSCRIPTION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
RTF_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 4.0)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """What an operator watches: sessions, scoring throughput and batching, event latency, errors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.active_sessions = Gauge("openapiopenai_active_sessions", "Open Realtime sessions", registry=r)
        self.sessions = Counter("openapiopenai_sessions", "Sessions accepted", registry=r)
        self.refused = Counter(
            "openapiopenai_sessions_refused", "Connections refused before the upgrade", ["reason"], registry=r
        )
        self.closed = Counter(
            "openapiopenai_sessions_closed", "Sessions closed by the server", ["reason"], registry=r
        )
        self.frames = Counter("openapiopenai_frames_scored", "Model frames scored", registry=r)
        self.batch_size = Histogram(
            "openapiopenai_batch_size", "Streams per model call", buckets=BATCH_BUCKETS, registry=r
        )
        self.event_latency = Histogram(
            "openapiopenai_event_latency_seconds",
            "Arrival of the append that decided a turn event -> event queued (upper bound)",
            ["type"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.transcription_queue = Gauge(
            "openapiopenai_transcription_queue_depth", "Committed items waiting for a transcriber", registry=r
        )
        self.transcriptions = Counter(
            "openapiopenai_transcriptions", "Items transcribed, by outcome", ["outcome"], registry=r
        )
        self.transcription_seconds = Histogram(
            "openapiopenai_transcription_seconds",
            "Submitted to the pool -> transcript complete (queue wait + decoding)",
            buckets=TRANSCRIPTION_BUCKETS,
            registry=r,
        )
        self.transcription_latency = Histogram(
            "openapiopenai_transcription_latency_seconds",
            "input_audio_buffer.committed queued -> ...input_audio_transcription.completed queued",
            buckets=TRANSCRIPTION_BUCKETS,
            registry=r,
        )
        self.transcription_rtf = Histogram(
            "openapiopenai_transcription_real_time_factor",
            "Decoding time / audio duration per item (below 1: faster than real time)",
            buckets=RTF_BUCKETS,
            registry=r,
        )
        self.errors = Counter("openapiopenai_errors", "error events sent, by code", ["code"], registry=r)
        # semantic_vad (server/turn_end.py)
        self.turn_end_decisions = Counter(
            "openapiopenai_turn_end_decisions", "End-of-turn model decisions run", registry=r
        )
        self.turn_end_seconds = Histogram(
            "openapiopenai_turn_end_seconds",
            "End-of-turn model time per decision",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.turn_end_fallbacks = Counter(
            "openapiopenai_turn_end_fallbacks",
            "End-of-turn questions answered 'no answer' (the turn ends on silence), by reason",
            ["reason"],
            registry=r,
        )
        self.turn_end_dropped = Counter(
            "openapiopenai_turn_end_dropped", "End-of-turn questions dropped: the speaker resumed", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["Metrics"]
