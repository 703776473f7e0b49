"""Sessions per core: N real-time clients against ``openapiopenai serve``, batching on vs off.

    python bench/bench_load.py --sessions 50 100 200 400 --duration 20            # 20 ms appends
    python bench/bench_load.py --sessions 100 200 300 400 --chunk-ms 100          # 100 ms appends
    python bench/bench_load.py --sessions 400 --chunk-ms 100 --client-nice 10 --repeat 5
    python bench/bench_load.py --sessions 600 --chunk-ms 100 --server-arg=--workers=2
    python bench/bench_load.py --sessions 400 --chunk-ms 100 --repeat 2 --variant= --variant=--scorer-process

For each N it starts a fresh server, runs N clients (in separate processes, real speech at
real-time pace), and prints the server-side event latency (deciding audio sent -> event
received; p50/p99), the server's CPU use (in cores, workers included) and missed turns. The clients share the
machine with the server, so the figures are conservative for a dedicated server.

``--variant`` compares server options in the same run: each repeat runs every variant in turn
(A, B, A, B, ...), because this machine's speed drifts between minutes.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen


def run_once(
    args: argparse.Namespace,
    mode: str,
    n: int,
    loop_s: float,
    expected: list[int],
    loop_ms: int,
    variant: str = "",
) -> tuple[dict[str, float], float, float]:
    """One fresh server, ``n`` clients: the latency summary, server cores, client cores."""
    extra = [*args.server_arg, *shlex.split(variant), *(["--no-batching"] if mode == "no-batching" else [])]
    server = loadgen.start_server(*extra)
    try:
        cpu0, loop0, t0 = server.cpu_seconds(), server.loop_cpu_seconds(), time.perf_counter()
        scorer0 = server.scorer_process_cpu_seconds()
        results = loadgen.run_clients(
            server.port, n, chunk_ms=args.chunk_ms, duration_s=args.duration, loop_s=loop_s,
            processes=args.processes, nice=args.client_nice, client=args.client,
        )  # fmt: skip
        elapsed = time.perf_counter() - t0
        cores = (server.cpu_seconds() - cpu0) / elapsed
        run_once.loop_cores = (server.loop_cpu_seconds() - loop0) / elapsed  # type: ignore[attr-defined]
        scorer_cores = (server.scorer_process_cpu_seconds() - scorer0) / elapsed
        run_once.scorer_cores = scorer_cores  # type: ignore[attr-defined]
        client_cores = loadgen.run_clients.client_cpu_seconds / elapsed  # type: ignore[attr-defined]
    finally:
        server.stop()
    return loadgen.summarize(results, expected, loop_ms), cores, client_cores


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of audio per client")
    parser.add_argument("--chunk-ms", type=int, default=20, help="audio per append (default: 20)")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    loadgen.add_client_option(parser)
    parser.add_argument("--modes", nargs="+", default=["batching", "no-batching"])
    parser.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="run the clients at this nice level (e.g. 10: they take the CPU the server leaves, closer "
        "to clients on other machines; their delays in reading events still count)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per N and mode; each is printed, then the median p99"
    )
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="extra option for `openapiopenai serve` (repeat; e.g. --server-arg=--backend=energy)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="server options to compare, as one string (repeat; '' = none; e.g. --variant= "
        "--variant=--scorer-process): each repeat runs them all in turn",
    )
    args = parser.parse_args()
    variants = args.variant or [""]
    loop_s = 30.0
    audio = loadgen.loop_audio(loop_s)
    expected = loadgen.expected_stops(audio)
    loop_ms = len(audio) // 48
    header = ("mode", "variant", "N", "p50 ms", "p99 ms", "server CPU", "of it loop", "scorer proc",
              "client CPU", "events", "missed", "failed", "load avg")  # fmt: skip
    print(
        f"append size {args.chunk_ms} ms, {args.duration:.0f} s per client,"
        f" clients at nice {args.client_nice}"
    )
    print("{:12} {:18} {:>5} {:>8} {:>8} {:>11} {:>11} {:>11} {:>11} {:>7} {:>7} {:>7} {:>9}".format(*header))
    for n in args.sessions:
        for mode in args.modes:
            p99s: dict[str, list[float]] = {variant: [] for variant in variants}
            for _ in range(args.repeat):
                for variant in variants:
                    s, cores, client_cores = run_once(args, mode, n, loop_s, expected, loop_ms, variant)
                    p99s[variant].append(s["p99_ms"])
                    print(
                        f"{mode:12} {variant or '-':18} {n:>5} {s['p50_ms']:>8.1f} {s['p99_ms']:>8.1f} "
                        f"{cores:>10.2f}c {run_once.loop_cores:>10.2f}c "  # type: ignore[attr-defined]
                        f"{run_once.scorer_cores:>10.2f}c {client_cores:>10.2f}c "  # type: ignore[attr-defined]
                        f"{int(s['events']):>7} {int(s['missed_turns']):>7} {int(s['failed_clients']):>7}"
                        f" {os.getloadavg()[0]:>9.2f}",
                        flush=True,
                    )
            if args.repeat > 1:
                for variant, runs in p99s.items():
                    print(
                        f"{mode:12} {variant or '-':18} {n:>5} median p99 {statistics.median(runs):.1f} ms"
                        f" over {args.repeat} runs"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
