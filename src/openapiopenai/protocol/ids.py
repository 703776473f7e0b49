"""Realtime-style ids: ``<prefix>_`` + 21 characters from ``[A-Za-z0-9]``.

The live API uses this shape (``event_Ct1OXIluGYDuYDr0t7VDt``); clients only treat ids as
strings, but matching the shape keeps logs and client-side parsers unsurprised.
"""

from __future__ import annotations

import random
import secrets
import string

ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 21
_BASE = len(ALPHABET)
_SPACE = _BASE**ID_LENGTH


class IdFactory:
    """Makes ids. Seeded instances are deterministic (tests, offline replays)."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng: random.Random | None = random.Random(seed) if seed is not None else None

    def _suffix(self) -> str:
        # one random number below 62**21, written in base 62: uniform like 21 draws of one
        # character, at a sixth of the cost (ids are made for every event the server sends)
        n = secrets.randbelow(_SPACE) if self._rng is None else self._rng.randrange(_SPACE)
        chars = []
        for _ in range(ID_LENGTH):
            n, digit = divmod(n, _BASE)
            chars.append(ALPHABET[digit])
        return "".join(chars)

    def make(self, prefix: str) -> str:
        return f"{prefix}_{self._suffix()}"

    def event(self) -> str:
        return self.make("event")

    def item(self) -> str:
        return self.make("item")

    def session(self) -> str:
        return self.make("sess")

    def conversation(self) -> str:
        return self.make("conv")
