"""Lines of an input stream, read without ever blocking longer than asked.

On a real file descriptor (a file, a pipe, a terminal) the process waits with `select` and reads
what is there with `os.read`, in the calling thread: so a batch can be flushed on time while
`tail -f` is silent, and no byte is taken from the input that the caller has not been handed.
Streams without a descriptor (in-memory ones, in tests) are read directly: they never block.

Reading is linear: the pieces of a line that spans many reads are kept in a list and joined once,
when its newline arrives. A line longer than `max_line_bytes` is not kept at all: its bytes are
counted and dropped up to the next newline, and it is handed out as `None`.
"""

from __future__ import annotations

import io
import os
import select
from typing import BinaryIO, cast

CHUNK = 1 << 16
DEFAULT_MAX_LINE_BYTES = 1 << 20  # 1 MiB


def _descriptor(stream: BinaryIO) -> int | None:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    try:
        select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return None
    return fd


class LineSource:
    """Complete lines (bytes, without the newline) of `stream`, as they arrive; `None` stands for
    a line longer than `max_line_bytes`."""

    def __init__(self, stream: BinaryIO, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._stream = stream
        self._fd = _descriptor(stream)
        self._max = max_line_bytes
        self._pieces: list[bytes] = []  # the unterminated line so far (unless it is too long)
        self._size = 0  # its length in bytes, kept or not
        self.eof = False
        self.bytes_read = 0

    def total_bytes(self) -> int | None:
        """The input's size when it is a regular file, for a progress bar."""
        if self._fd is None:
            return None
        try:
            info = os.fstat(self._fd)
        except OSError:
            return None
        import stat

        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def poll(self, timeout: float) -> list[bytes | None]:
        """The complete lines that arrive within `timeout` seconds (maybe none); at end of input
        `eof` becomes true, and the caller decides what the unterminated rest is (`last` or
        `incomplete`): a stop may have come first."""
        if self.eof:
            return []
        chunk = self._read(timeout)
        if chunk is None:
            return []
        if not chunk:
            self.eof = True
            return []
        self.bytes_read += len(chunk)
        if b"\n" not in chunk:
            self._hold(chunk)
            return []
        parts = chunk.split(b"\n")
        tail = parts.pop()
        lines = cast("list[bytes | None]", parts)
        lines[0] = self._line(parts[0])
        if len(chunk) > self._max:  # a line within this chunk may be over the limit too
            limit = self._max
            lines = [None if line is None or len(line) > limit else line for line in lines]
        self._hold(tail)
        return lines

    def last(self) -> list[bytes | None]:
        """At the end of input: the last line if it has no newline (a line like any other)."""
        return [self._line(b"")] if self._size else []

    def incomplete(self) -> tuple[bytes | None, int]:
        """Take the unterminated line read so far, which is not a line (used when stopping before
        the end of input): its bytes (None when it was too long to keep) and its length."""
        size = self._size
        kept = b"".join(self._pieces) if size <= self._max else None
        self._pieces, self._size = [], 0
        return kept, size

    def _hold(self, data: bytes) -> None:
        self._size += len(data)
        if self._size <= self._max:
            self._pieces.append(data)
        elif self._pieces:
            self._pieces = []  # over the limit: the rest of this line is only counted

    def _line(self, head: bytes) -> bytes | None:
        """The unterminated line so far plus `head`, which ends it; None when too long."""
        size, pieces = self._size + len(head), self._pieces
        self._pieces, self._size = [], 0
        if size > self._max:
            return None
        if not pieces:
            return head
        pieces.append(head)
        return b"".join(pieces)

    def _read(self, timeout: float) -> bytes | None:
        if self._fd is None:
            reader = getattr(self._stream, "read1", None) or self._stream.read
            return reader(CHUNK)
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        if not ready:
            return None
        return os.read(self._fd, CHUNK)
