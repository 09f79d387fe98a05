"""Reading event lines: linear in the input, lines over the limit dropped without being held."""

from __future__ import annotations

import io
import tracemalloc

from atlas_cli.services.ingestion.lines import LineSource

PIECE = 4096


class Pieces(io.RawIOBase):
    """A stream handing out `data` PIECE bytes per read, counting the reads."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._at = 0
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read1(self, _size: int = -1) -> bytes:
        self.reads += 1
        piece = bytes(self._data[self._at : self._at + PIECE])
        self._at += len(piece)
        return piece


def read_all(source: LineSource) -> list[bytes | None]:
    lines: list[bytes | None] = []
    while not source.eof:
        lines.extend(source.poll(0))
    return lines + source.last()


def allocated_per_read(data: bytes, max_line_bytes: int) -> tuple[list[bytes | None], int, int]:
    """The lines, the number of reads, and the most memory any one read allocated beyond what was
    held before it (tracemalloc: counts bytes, not time)."""
    stream = Pieces(data)
    source = LineSource(stream, max_line_bytes)  # type: ignore[arg-type]
    lines: list[bytes | None] = []
    worst = 0
    tracemalloc.start()
    try:
        while not source.eof:
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            got = source.poll(0)
            _, peak = tracemalloc.get_traced_memory()
            if not got:  # a read inside a line: the line being assembled must not be copied again
                worst = max(worst, peak - before)
            lines.extend(got)
    finally:
        tracemalloc.stop()
    return lines + source.last(), stream.reads, worst


def test_a_long_line_is_read_in_linear_time_and_space() -> None:
    size = 4 << 20  # 4 MiB in 4 KiB reads: copying the line so far at each read would be 1,024 copies
    long_line = b"x" * size
    data = b"a\n" + long_line + b"\nb\n"
    lines, reads, worst = allocated_per_read(data, max_line_bytes=8 << 20)
    assert lines == [b"a", long_line, b"b"]
    assert reads == -(-len(data) // PIECE) + 1  # every byte read once, then the end of input
    assert worst < 4 * PIECE  # a read inside the line allocates about its own piece, not the line so far


def test_a_line_over_the_limit_is_none_and_its_bytes_are_not_held() -> None:
    size = 4 << 20
    lines, _reads, worst = allocated_per_read(b"a\n" + b"y" * size + b"\nb\n", max_line_bytes=1 << 20)
    assert lines == [b"a", None, b"b"]
    assert worst < 4 * PIECE


def test_lines_over_the_limit_inside_one_read_and_at_the_end_of_input() -> None:
    source = LineSource(io.BytesIO(b"12345\n123456\n1234\n1234567"), max_line_bytes=5)
    assert read_all(source) == [b"12345", None, b"1234", None]


def test_the_last_line_without_a_newline_is_a_line_at_the_end_of_input() -> None:
    assert read_all(LineSource(io.BytesIO(b"a\nb"))) == [b"a", b"b"]


def test_an_unterminated_line_taken_when_stopping_is_not_a_line() -> None:
    source = LineSource(io.BytesIO(b"a\nbc"))
    assert source.poll(0) == [b"a"]
    assert source.incomplete() == (b"bc", 2)
    assert source.incomplete() == (b"", 0)
