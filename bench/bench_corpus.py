"""Corpus segmentation throughput: one process vs a process pool vs Ray Data, in one run.

    python bench/bench_corpus.py [--copies 3] [--cpus 2]

The dev audio under ../shared/data (every file, listed ``--copies`` times) is segmented by
``detect_files`` in one process, by ``detect_files`` with ``--cpus`` worker processes, and by
``segment_corpus`` on a local Ray started with ``--cpus`` CPUs (Ray's start-up is not timed; actor
start-up and model loading are). Prints audio seconds per wall second and the ratio to the single
process, and checks that every path gave the same segments. Asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import ray

from openapiopenai.corpus.files import detect_files, expand_inputs
from openapiopenai.corpus.ray_segment import segment_corpus

DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    paths = expand_inputs([str(DATA)]) * args.copies

    started = time.perf_counter()
    single = list(detect_files(paths))
    t_single = time.perf_counter() - started
    audio_s = sum(r.duration_s for r in single)
    rows = [(p.file, s.start_s, s.end_s) for p in single for s in p.segments]

    started = time.perf_counter()
    pooled = list(detect_files(paths, jobs=args.cpus))
    t_pool = time.perf_counter() - started
    same_pool = [(p.file, s.start_s, s.end_s) for p in pooled for s in p.segments] == rows

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "segments.parquet"
        started = time.perf_counter()
        segment_corpus(paths, out, actors=args.cpus, batch_size=4)  # (rows, unreadable files)
        t_ray = time.perf_counter() - started
        table = pq.read_table(out)
        got = list(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    ray.shutdown()

    print(f"{len(paths)} files, {audio_s / 60:.1f} min of audio, {len(rows)} segments; {args.cpus} CPUs\n")
    for name, t, same in [
        ("one process (detect)", t_single, True),
        (f"process pool, {args.cpus} workers (detect --jobs)", t_pool, same_pool),
        (f"Ray Data, {args.cpus} actors (segment)", t_ray, got == rows),
    ]:
        print(
            f"{name:44} {t:7.2f} s  {audio_s / t:6.0f}x real time  {t_single / t:5.2f}x one process"
            f"  segments {'identical' if same else 'DIFFERENT'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
