"""A long protocol fuzz run (not part of CI): the invariants of tests/protocol/test_fuzz.py with
a large example budget. Prints how many client-event sequences and messages it tried.

    python bench/fuzz_long.py --examples 20000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings
from tests.protocol import test_fuzz


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    counts = {"sequences": 0, "messages": 0}

    @settings(
        max_examples=args.examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=args.seed is None,
    )
    @given(script=test_fuzz.messages)
    def run(script: list[tuple[Any, bool]]) -> None:
        counts["sequences"] += 1
        counts["messages"] += len(script)
        test_fuzz.test_random_client_events_never_break_the_session.hypothesis.inner_test(script)  # type: ignore[attr-defined]

    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    print(
        f"protocol fuzz: {counts['sequences']} sequences, {counts['messages']} client messages, "
        f"0 invariant violations, {elapsed:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
