"""The load benchmark's clients (``bench/loadgen.py``) measure what they claim.

The capacity figures in docs/speed.md rest on them: the raw client (pre-framed appends written to
the socket, a minimal frame reader) must see the same turns as the ``websockets`` client and as
the offline engine, and time every one of them. They loop the repository's speech fixtures here
(copied into the test's folder), not the shared recordings the benchmarks use.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.audio._data import SPEECH, SPEECH_THEN_SILENCE, TWO_TURNS, fixture_path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import loadgen


def test_raw_and_websockets_load_clients_see_every_turn_the_engine_finds_and_time_each(
    tmp_path: Path,
) -> None:
    # 4 turns in 15.3 s with loadgen's pauses; 3 of them end within the 13 s streamed
    for name in (SPEECH, SPEECH_THEN_SILENCE, TWO_TURNS):
        shutil.copyfile(fixture_path(name), tmp_path / name)
    audio = loadgen.loop_audio(30.0, tmp_path)
    expected = loadgen.expected_stops(audio)
    loop_ms = len(audio) // 48
    server = loadgen.start_server()
    try:
        stops: dict[str, list[list[int]]] = {}
        for client in ("raw", "websockets"):
            results = loadgen.run_clients(
                server.port,
                2,
                chunk_ms=100,
                duration_s=13.0,
                loop_s=30.0,
                processes=1,
                client=client,
                audio_dir=tmp_path,
            )
            summary = loadgen.summarize(results, expected, loop_ms)
            assert summary["failed_clients"] == 0 and summary["errors"] == 0, (client, summary)
            assert summary["missed_turns"] == 0, (client, summary)
            want = [end for end in expected if end + 200 < 13_000]
            assert want, "the benchmark audio must hold a turn within 13 s"
            for result in results:
                assert result.stops[: len(want)] == want, client
                # a start and a stop per turn, each timed from a real send
                assert len(result.latencies_ms) >= 2 * len(want), client
                assert all(latency >= 0 for latency in result.latencies_ms), client
            stops[client] = [r.stops for r in results]
        assert stops["raw"] == stops["websockets"]
    finally:
        server.stop()
