"""The server's per-session CPU, without sockets: where one core's time goes per append.

Drives N :class:`Session` s the way the server does (JSON ``input_audio_buffer.append`` text in,
ready frames to the batching :class:`Scorer`, scores back, events out) for a few seconds of
real speech, all in one thread, and prints CPU microseconds per append for each stage:

* ``session``  - ``receive_text`` (JSON, base64, buffer, decode, resample, framing);
* ``scoring``  - the Scorer's model calls (batched across the N sessions, as in the server);
* ``results``  - ``receive_scores`` + event serialisation (the turn detector and the events).

It is deterministic enough to compare changes to the hot path (the load test, with its clients
on the same cores, is not). ``sessions/core`` is how many real-time sessions these stages alone
would fill one core with.

    python bench/bench_session.py [--sessions 400] [--seconds 20] [--chunk-ms 100]
"""

from __future__ import annotations

import argparse
import time

import loadgen
from openapiopenai.protocol.session import ScoreRequest, Session
from openapiopenai.server.scorer import Scorer
from openapiopenai.vad.silero import SileroModel


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per session")
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is printed")
    args = parser.parse_args()

    audio = loadgen.loop_audio(30.0)
    pieces = loadgen.append_messages(audio, args.chunk_ms)
    steps = int(args.seconds * 1000 // args.chunk_ms)
    model = SileroModel()
    scorer = Scorer(model)
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        sessions = [Session(model) for _ in range(args.sessions)]
        for s in sessions:
            s.start()
            s.events_to_send()
        spent = {"session": 0.0, "scoring": 0.0, "results": 0.0}
        events = 0
        for step in range(steps):
            # sessions start at different points of the loop, like staggered callers
            t0 = time.process_time()
            for k, s in enumerate(sessions):
                s.receive_text(pieces[(step + k * 7) % len(pieces)])
            t1 = time.process_time()
            requests: list[tuple[Session, ScoreRequest]] = []
            for s in sessions:
                request = s.frames_to_score()
                if request is not None:
                    requests.append((s, request))
            results = scorer.score_now([r for _, r in requests])
            t2 = time.process_time()
            for (s, _), probabilities in zip(requests, results, strict=True):
                s.receive_scores(probabilities)
                events += len(s.events_to_send())
            t3 = time.process_time()
            spent["session"] += t1 - t0
            spent["scoring"] += t2 - t1
            spent["results"] += t3 - t2
        appends = steps * args.sessions
        for key, value in spent.items():
            best[key] = min(best.get(key, float("inf")), value / appends * 1e6)
    total = sum(best.values())
    per_second = 1000 / args.chunk_ms  # appends per session-second
    print(
        f"{args.sessions} sessions, {args.chunk_ms} ms appends, {args.seconds:g} s each;"
        f" {events} events per run"
    )
    print(f"{'stage':<10}{'us/append':>11}{'share':>8}")
    for key, value in best.items():
        print(f"{key:<10}{value:>11.1f}{value / total:>8.0%}")
    print(f"{'total':<10}{total:>11.1f}    -> {1e6 / (total * per_second):.0f} sessions/core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
