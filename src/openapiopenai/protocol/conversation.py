"""The conversation's items as this server keeps them: order, and the audio of user turns.

Memory is bounded three ways, each a session limit: at most ``max_items`` items and at most
``max_item_bytes`` of item text, and at most ``max_audio_bytes`` of retained audio (the oldest
items keep their place but lose their audio). Without these a client could hold gigabytes per
session.

What happens at the item and text limits depends on who adds the item. A client's item that
does not fit is refused (the Session answers ``conversation_full``; OpenAI's API never forgets
items on its own, so neither do we behind a client's back). Committed user audio is never
refused or lost: when a commit (or the transcript filling it in) does not fit, the oldest other
items make room (:meth:`Conversation.make_room`) and the Session tells the client which
(``conversation_items_evicted``, then ``conversation.item.deleted`` for each), so a session
that talks for hours goes on.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


def item_size(item: dict[str, Any]) -> int:
    """Bytes an item's text costs to hold (its JSON, audio excluded)."""
    return len(json.dumps(item, separators=(",", ":")).encode())


@dataclass(slots=True)
class Item:
    item: dict[str, Any]  # wire shape, without audio bytes
    audio: bytes = b""  # input audio in the session's input format at commit time
    size: int = field(default=0, init=False)  # text bytes counted against ``max_item_bytes``

    def __post_init__(self) -> None:
        self.size = item_size(self.item)


class Conversation:
    """Ordered items within the session's item, text and audio budgets."""

    def __init__(self, *, max_audio_bytes: int, max_items: int, max_item_bytes: int) -> None:
        """The three budgets, all required: their defaults live in ``SessionLimits`` alone."""
        self._items: OrderedDict[str, Item] = OrderedDict()
        self._max_audio = max_audio_bytes
        self._max_items = max_items
        self._max_bytes = max_item_bytes
        self._audio_bytes = 0
        self._text_bytes = 0

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def last_id(self) -> str | None:
        return next(reversed(self._items), None)

    @property
    def text_bytes(self) -> int:
        return self._text_bytes

    def fits(self, record: Item) -> bool:
        """Whether an item this size can be held at all, in an empty conversation."""
        return record.size <= self._max_bytes

    def has_room(self, record: Item) -> bool:
        """Whether ``record`` can join without going over the item count or the text budget."""
        return len(self._items) < self._max_items and self._text_bytes + record.size <= self._max_bytes

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def insert(self, record: Item, after: str | None, *, at_root: bool = False) -> str | None:
        """Insert ``record``; returns the id of the item it now follows (``None`` at the start).

        Never forgets an item: over the item or text budget, the caller decides (refuse first,
        or :meth:`make_room` after)."""
        item_id = record.item["id"]
        if at_root:
            self._items[item_id] = record
            self._items.move_to_end(item_id, last=False)
            previous = None
        elif after is None or after == self.last_id:
            previous = self.last_id
            self._items[item_id] = record
        else:
            keys = list(self._items)
            position = keys.index(after) + 1
            items = list(self._items.items())
            items.insert(position, (item_id, record))
            self._items = OrderedDict(items)
            previous = after
        self._audio_bytes += len(record.audio)
        self._text_bytes += record.size
        self._trim_audio()
        return previous

    def set_transcript(self, item_id: str, transcript: str) -> None:
        """Fill in the transcript of a user audio item (``retrieve`` then returns it; the text
        budget may now be exceeded: :meth:`make_room`)."""
        record = self._items.get(item_id)
        if record is None:
            return
        for part in record.item.get("content") or []:
            if isinstance(part, dict) and part.get("type") == "input_audio":
                part["transcript"] = transcript
        size = item_size(record.item)
        self._text_bytes += size - record.size
        record.size = size

    def delete(self, item_id: str) -> bool:
        record = self._items.pop(item_id, None)
        if record is None:
            return False
        self._audio_bytes -= len(record.audio)
        self._text_bytes -= record.size
        return True

    def make_room(self, keep: str) -> list[str]:
        """Forget the oldest items but ``keep`` until the item count and text budget hold again
        (``keep`` alone may exceed the text budget: a long transcript); the ids forgotten."""
        forgotten: list[str] = []
        while len(self._items) > self._max_items or self._text_bytes > self._max_bytes:
            victim = next((key for key in self._items if key != keep), None)
            if victim is None:
                break
            self.delete(victim)
            forgotten.append(victim)
        return forgotten

    def _trim_audio(self) -> None:
        for record in self._items.values():
            if self._audio_bytes <= self._max_audio:
                return
            self._audio_bytes -= len(record.audio)
            record.audio = b""
