"""Ids have the Realtime API's shape; seeded factories repeat, unseeded ones do not collide."""

from __future__ import annotations

import re

from openapiopenai.protocol.ids import IdFactory


def test_ids_have_the_realtime_shape() -> None:
    ids = IdFactory()
    for make, prefix in (
        (ids.event, "event"),
        (ids.item, "item"),
        (ids.session, "sess"),
        (ids.conversation, "conv"),
    ):
        assert re.fullmatch(rf"{prefix}_[A-Za-z0-9]{{21}}", make())


def test_seeded_factories_are_deterministic_and_unseeded_ones_unique() -> None:
    assert [IdFactory(seed=5).event() for _ in range(2)] == [IdFactory(seed=5).event()] * 2
    random_ids = IdFactory()
    assert len({random_ids.item() for _ in range(10_000)}) == 10_000
