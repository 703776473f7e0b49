"""Where the server's event loop spends its time under N real-time clients.

    python bench/profile_server.py --sessions 300 --duration 15 [--profiler pyinstrument|cprofile]

Starts ``openapiopenai serve`` under a profiler of its main thread (the event loop; the scorer
threads are not sampled), runs ``--sessions`` real-time clients as ``bench_load.py`` does (clients
at nice ``--client-nice``), stops the server with SIGTERM and prints the profile. ``pyinstrument``
(``pip install pyinstrument``; sampling, low overhead) shows wall time, so the loop's idle wait
(``select``/``run_forever``) is in it too; ``cprofile`` counts every call (slower, exact counts).

The latency figures printed are under the profiler's overhead: compare them with nothing.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--client-nice", type=int, default=10)
    parser.add_argument("--profiler", choices=["pyinstrument", "cprofile"], default="pyinstrument")
    parser.add_argument("--top", type=int, default=45, help="cprofile: rows printed")
    parser.add_argument("--output", type=Path, help="keep the raw profile here")
    args = parser.parse_args()

    port = loadgen.free_port()
    name = "profile.txt" if args.profiler == "pyinstrument" else "profile.prof"
    out = args.output or Path(tempfile.mkdtemp()) / name
    serve = ["-m", "openapiopenai", "serve", "--port", str(port), "--log-level", "warning",
             "--max-sessions", "100000"]  # fmt: skip
    if args.profiler == "pyinstrument":
        # interval: 1 ms samples; -r text with --show-all would be long, the default tree is enough
        prof = ["-m", "pyinstrument", "-i", "0.001", "-r", "text", "-o", str(out)]
    else:
        prof = ["-m", "cProfile", "-o", str(out)]
    proc = subprocess.Popen([sys.executable, *prof, *serve], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    server = loadgen.Server(proc, port)
    audio = loadgen.loop_audio(30.0)
    expected = loadgen.expected_stops(audio)
    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    results = loadgen.run_clients(
        port, args.sessions, chunk_ms=args.chunk_ms, duration_s=args.duration, loop_s=30.0,
        processes=args.processes, nice=args.client_nice,
    )  # fmt: skip
    cores = (server.cpu_seconds() - cpu0) / (time.perf_counter() - t0)
    s = loadgen.summarize(results, expected, len(audio) // 48)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    print(
        f"{args.sessions} sessions under {args.profiler}: p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms,"
        f" server {cores:.2f} cores, missed {s['missed_turns']:.0f}, failed {s['failed_clients']:.0f}"
    )
    if args.profiler == "pyinstrument":
        print(out.read_text())
    else:
        import pstats

        stats = pstats.Stats(str(out))
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
    print(f"raw profile: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
