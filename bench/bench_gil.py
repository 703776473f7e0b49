"""Why the audio prep stays on the event loop: what a GIL-releasing call costs a second thread.

    python bench/bench_gil.py

soxr and numpy release the GIL while they work, which suggests running the append path's
decode/resample in a worker thread next to the event loop. This measures the catch: after each
release the worker must get the GIL back from a thread that is busy running Python (the event
loop under load), which takes up to ``sys.getswitchinterval()`` (the server sets 1 ms). Each
step of one 100 ms append (24 kHz PCM16 -> 16 kHz) is timed alone and while another thread
runs Python; the per-call figures are wall microseconds (they move with what else the machine
runs: the penalty is largest when the two threads really run on two cores).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import numpy as np
import pybase64
import soxr


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> int:
    sys.setswitchinterval(0.001)  # as ``openapiopenai serve`` sets it
    rng = np.random.default_rng(0)
    raw = rng.integers(-3000, 3000, 2400).astype("<i2").tobytes()  # 100 ms at 24 kHz
    text = pybase64.b64encode(raw).decode()
    samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    stream = soxr.ResampleStream(24_000, 16_000, 1, "float32", "HQ")
    steps: dict[str, Callable[[], object]] = {
        "base64 decode (pybase64)": lambda: pybase64.b64decode(text, validate=True),
        "int16 -> float32 (numpy)": lambda: np.frombuffer(raw, "<i2").astype(np.float32),
        "resample 24 -> 16 kHz (soxr HQ)": lambda: stream.resample_chunk(samples),
    }
    busy = threading.Event()

    def python_loop() -> None:  # stands in for the event loop running Python
        x = 0
        while busy.is_set():
            for i in range(1000):
                x += i

    print(f"switch interval {sys.getswitchinterval() * 1e3:g} ms; wall us per call, 5 rounds: min / max")
    print(f"{'step':<34}{'alone':>16}{'beside a Python thread':>26}")
    for name, fn in steps.items():
        alone, contended = [], []
        for _ in range(5):
            alone.append(per_call_us(fn, 1000))
            busy.set()
            other = threading.Thread(target=python_loop)
            other.start()
            time.sleep(0.01)
            contended.append(per_call_us(fn, 200))
            busy.clear()
            other.join()
        print(
            f"{name:<34}{min(alone):>7.1f} / {max(alone):<6.1f}"
            f"{min(contended):>15.1f} / {max(contended):<6.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
