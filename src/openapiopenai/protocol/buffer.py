"""The uncommitted input audio, addressed by positions on the session timeline."""

from __future__ import annotations


class AudioBuffer:
    """Raw input bytes not yet committed.

    Positions are whole samples since the session began. A trailing partial sample (an odd
    byte of PCM16) stays here until the next append completes it; it is never dropped.

    One ``bytearray`` that grows by itself. Measured under load (400 sessions), both a list of
    the appended chunks and a buffer that manages its own capacity (doubling, halving after a
    commit) gave far worse tail latency than this, though they copy less: fresh allocations and
    page faults cost more here than ``bytearray``'s in-place reallocation.
    """

    def __init__(self, bytes_per_sample: int, start: int = 0) -> None:
        self.bytes_per_sample = bytes_per_sample
        self.start = start
        self._data = bytearray()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def end(self) -> int:
        """One past the last whole sample in the buffer."""
        return self.start + len(self._data) // self.bytes_per_sample

    @property
    def samples(self) -> int:
        return self.end - self.start

    def append(self, data: bytes) -> bytes:
        """Add ``data``; return the samples it completed, whole: the buffer alone holds a
        half-received sample, so what it returns can go straight to the decoder."""
        rest = len(self._data) % self.bytes_per_sample
        self._data += data
        if not rest and len(data) % self.bytes_per_sample == 0:
            return data
        whole_end = len(self._data) - len(self._data) % self.bytes_per_sample
        return bytes(self._data[len(self._data) - len(data) - rest : whole_end])

    def peek(self, start: int, end: int) -> bytes:
        """A copy of the audio in ``[start, end)`` (clamped to the buffer), left in place."""
        start, end = max(self.start, start), min(end, self.end)
        if end <= start:
            return b""
        size = self.bytes_per_sample
        return bytes(self._data[(start - self.start) * size : (end - self.start) * size])

    def take(self, until: int) -> bytes:
        """Remove and return the audio in ``[start, until)``."""
        until = max(self.start, min(until, self.end))
        cut = (until - self.start) * self.bytes_per_sample
        taken = bytes(self._data[:cut])
        del self._data[:cut]
        self.start = until
        return taken

    def discard(self, until: int) -> None:
        """Remove the audio in ``[start, until)`` without copying it out."""
        until = max(self.start, min(until, self.end))
        del self._data[: (until - self.start) * self.bytes_per_sample]
        self.start = until

    def take_all(self) -> bytes:
        return self.take(self.end)

    @property
    def partial(self) -> bytes:
        """The incomplete trailing sample, if any."""
        rest = len(self._data) % self.bytes_per_sample
        return bytes(self._data[len(self._data) - rest :]) if rest else b""
