"""Soak: N real-time sessions for a long time; server memory over time, latency, missed turns.

    python bench/soak.py --sessions 200 --minutes 10

Prints the server's RSS every ``--every`` seconds, then the RSS slope (MiB per minute, least
squares over the second half of the run, after warm-up), event latency percentiles and missed
turns (against the offline engine on the same audio).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    audio = loadgen.loop_audio(30.0)
    expected = loadgen.expected_stops(audio)
    server = loadgen.start_server()
    samples: list[tuple[float, float]] = []
    done = threading.Event()
    start = time.perf_counter()

    def watch() -> None:
        while not done.wait(args.every):
            t, rss = time.perf_counter() - start, server.rss_mib()
            samples.append((t, rss))
            print(f"t={t:6.0f} s  RSS {rss:7.1f} MiB", flush=True)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        cpu0 = server.cpu_seconds()
        results = loadgen.run_clients(
            server.port, args.sessions, chunk_ms=args.chunk_ms, duration_s=args.minutes * 60, loop_s=30.0,
            processes=args.processes,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
        cores = (server.cpu_seconds() - cpu0) / elapsed
    finally:
        done.set()
        server.stop()
    summary = loadgen.summarize(results, expected, len(audio) // 48)
    later = [(t, r) for t, r in samples if t >= elapsed / 2]
    slope = float("nan")
    if len(later) >= 2:
        slope = float(np.polyfit([t / 60 for t, _ in later], [r for _, r in later], 1)[0])
    first = samples[0][1] if samples else float("nan")
    last = samples[-1][1] if samples else float("nan")
    print(
        f"{args.sessions} sessions x {args.minutes:.0f} min ({args.chunk_ms} ms appends): "
        f"RSS {first:.1f} -> {last:.1f} MiB, slope over the 2nd half {slope:+.2f} MiB/min; "
        f"latency p50 {summary['p50_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} ms; "
        f"{int(summary['events'])} turn events, {int(summary['missed_turns'])} missed turns, "
        f"{int(summary['failed_clients'])} failed clients, server CPU {cores:.2f} cores"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
