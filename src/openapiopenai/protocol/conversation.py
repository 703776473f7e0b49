"""The conversation's items as this server keeps them: order, and the audio of user turns."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Item:
    item: dict[str, Any]  # wire shape, without audio bytes
    audio: bytes = b""  # input audio in the session's input format at commit time


class Conversation:
    """Ordered items with a byte budget for retained audio.

    A long session would otherwise keep every turn's audio forever; once the budget is
    exceeded the oldest items' audio is dropped (the items stay, ``retrieve`` returns them
    without audio).
    """

    def __init__(self, max_audio_bytes: int) -> None:
        self._items: OrderedDict[str, Item] = OrderedDict()
        self._max_audio = max_audio_bytes
        self._audio_bytes = 0

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def last_id(self) -> str | None:
        return next(reversed(self._items), None)

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def insert(self, record: Item, after: str | None, *, at_root: bool = False) -> str | None:
        """Insert ``record``; returns the id of the item it now follows (``None`` at the start)."""
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
        self._evict_audio()
        return previous

    def delete(self, item_id: str) -> bool:
        record = self._items.pop(item_id, None)
        if record is None:
            return False
        self._audio_bytes -= len(record.audio)
        return True

    def _evict_audio(self) -> None:
        for record in self._items.values():
            if self._audio_bytes <= self._max_audio:
                return
            self._audio_bytes -= len(record.audio)
            record.audio = b""
