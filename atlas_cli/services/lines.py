"""Lines of an input stream, read without ever blocking longer than asked.

On a real file descriptor (a file, a pipe, a terminal) the process waits with `select` and reads
what is there with `os.read`, in the calling thread: so a batch can be flushed on time while
`tail -f` is silent, and no byte is taken from the input that the caller has not been handed.
Streams without a descriptor (in-memory ones, in tests) are read directly: they never block.
"""

from __future__ import annotations

import io
import os
import select
from typing import BinaryIO

CHUNK = 1 << 16


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
    """Complete lines (bytes, without the newline) of `stream`, as they arrive."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._fd = _descriptor(stream)
        self._partial = b""
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

    def poll(self, timeout: float) -> list[bytes]:
        """The lines that arrive within `timeout` seconds (maybe none); at end of input, the last
        unterminated line too, and `eof` becomes true."""
        if self.eof:
            return []
        chunk = self._read(timeout)
        if chunk is None:
            return []
        if not chunk:
            self.eof = True
            return self.rest()
        self.bytes_read += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        return lines

    def rest(self) -> list[bytes]:
        """The unterminated line already read, if any (used at end of input or when stopping)."""
        partial, self._partial = self._partial, b""
        return [partial] if partial else []

    def _read(self, timeout: float) -> bytes | None:
        if self._fd is None:
            reader = getattr(self._stream, "read1", None) or self._stream.read
            return reader(CHUNK)
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        if not ready:
            return None
        return os.read(self._fd, CHUNK)
