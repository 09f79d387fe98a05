"""`atlas usage record|ingest|aggregate|verify|export` end to end: exit codes, stdout, stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from typer.testing import CliRunner

from atlas_cli.cli.main import app
from atlas_cli.db.database import Database
from tests.events_fixtures import event_count, event_ids, events_db, line, new_id, prepare, totals

__all__ = ["events_db"]

runner = CliRunner()


def atlas(url: str, *args: str, input: str | None = None) -> Any:
    return runner.invoke(app, ["--database-url", url, *args], input=input)


def jsonl(*lines: str) -> str:
    return "\n".join(lines) + "\n"


# --- record -------------------------------------------------------------------------------


def test_record_inserts_one_event_and_the_same_id_again_is_a_duplicate(events_db: tuple[str, Database]) -> None:
    url, db = events_db
    args = [
        "usage",
        "record",
        "-w",
        "acme",
        "--type",
        "token",
        "--quantity",
        "120",
        "--user",
        "u1",
        "--metadata",
        '{"model": "m"}',
        "--id",
        new_id(1),
        "--at",
        "2026-03-01T10:00:00Z",
        "--json",
    ]
    first = atlas(url, *args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) | {"userId": None, "generatedId": None} == {
        "id": new_id(1),
        "workspaceId": "ws_acme",
        "eventType": "token",
        "quantity": 120,
        "createdAt": "2026-03-01T10:00:00.000Z",
        "duplicate": False,
        "userId": None,
        "generatedId": None,
    }
    again = atlas(url, *args)
    assert again.exit_code == 0 and json.loads(again.stdout)["duplicate"] is True
    assert totals(db) == {("ws_acme", "token"): 120}
    plain = atlas(url, "usage", "record", "-w", "globex", "--type", "login")
    assert plain.exit_code == 0 and plain.stdout.startswith("Recorded login x1 for ws_globex")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--type", "click"], 2, "unknown event_type 'click'"),
        (["--type", "query", "--quantity", "0"], 2, "quantity must be a positive integer"),
        (["--type", "query", "--metadata", "{bad"], 2, "bad metadata"),
        (["--type", "query", "--id", "nope"], 2, "bad id 'nope'"),
        (["--type", "query", "--at", "tomorrow"], 2, "bad created_at 'tomorrow'"),
        (["--type", "query", "-w", "nowhere"], 3, "workspace 'nowhere' not found"),
        (["--type", "query", "--at", "0001-01-01T00:00:00+05:00"], 2, "out of range"),
        (["--type", "query", "--at", "9999-12-31T23:00:00-05:00"], 2, "out of range"),
        (["--type", "query", "--metadata", '{"a": ' * 5000 + "1" + "}" * 5000], 2, "nested more than 64 levels"),
        (["--type", "query", "--metadata", '{"k": 1, "k": 2}'], 2, "duplicate key 'k'"),
    ],
)
def test_record_bad_input_is_one_line_and_writes_nothing(
    events_db: tuple[str, Database], args: list[str], code: int, message: str
) -> None:
    url, db = events_db
    result = atlas(url, "usage", "record", *(args if "-w" in args else ["-w", "acme", *args]))
    assert result.exit_code == code and message in result.stderr
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert event_count(db) == 0


# --- ingest -------------------------------------------------------------------------------


def test_ingest_from_stdin_reports_counts_and_exits_2_when_lines_were_rejected(
    events_db: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = events_db
    text = jsonl(line(id=new_id(1)), line(id=new_id(1)), line("click"), line(ws="ws_nowhere"), line(), "{")
    result = atlas(url, "usage", "ingest", "-", "--rejects", str(tmp_path / "rejects.jsonl"), "--json", input=text)
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("lines", "accepted", "duplicates", "rejected", "generatedIds", "spooled")} == {
        "lines": 6,
        "accepted": 2,
        "duplicates": 1,
        "rejected": 3,
        "generatedIds": 1,
        "spooled": 0,
    }
    assert sorted(r["line"] for r in report["rejections"]) == [3, 4, 6]
    assert "line 3: unknown event_type 'click'" in result.stderr
    assert "Read 6 event line(s): 2 accepted, 1 duplicate(s), 3 rejected" in result.stderr
    assert event_count(db) == 2
    clean = atlas(url, "usage", "ingest", "-", input=jsonl(line(id=new_id(1))))
    assert clean.exit_code == 0 and clean.stdout == "" and "0 accepted, 1 duplicate(s)" in clean.stderr


def test_ingest_reads_csv_files_by_name_and_asks_when_the_name_does_not_tell(
    events_db: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = events_db
    csv_file = tmp_path / "events.csv"
    csv_file.write_text(f"id,event_type,quantity\n{new_id(1)},token,40\n{new_id(2)},query,2\n")
    result = atlas(url, "usage", "ingest", str(csv_file), "-w", "globex")
    assert result.exit_code == 0, result.output
    assert totals(db) == {("ws_globex", "token"): 40, ("ws_globex", "query"): 2}
    other = tmp_path / "events.txt"
    other.write_text(csv_file.read_text())
    unknown = atlas(url, "usage", "ingest", str(other), "-w", "globex")
    assert unknown.exit_code == 2 and "--input-format" in unknown.stderr
    told = atlas(url, "usage", "ingest", str(other), "-w", "globex", "--input-format", "csv", "--json")
    assert told.exit_code == 0 and json.loads(told.stdout)["duplicates"] == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["missing.jsonl"], 2, "cannot read missing.jsonl"),
        (["-", "-w", "nowhere"], 3, "workspace 'nowhere' not found"),
        (["-", "--flush-at", "0"], 2, "--flush-at must be at least 1"),
        (["-", "--input-format", "xml"], 2, "--input-format: 'xml'"),
    ],
)
def test_ingest_bad_invocations(events_db: tuple[str, Database], args: list[str], code: int, message: str) -> None:
    url, _db = events_db
    result = atlas(url, "usage", "ingest", *args, input=jsonl(line()))
    assert result.exit_code == code and message in result.stderr, result.output


def test_an_unknown_csv_column_is_bad_input_naming_it(events_db: tuple[str, Database], tmp_path: Path) -> None:
    url, db = events_db
    bad = tmp_path / "bad.csv"
    bad.write_text("id,workspace_id,event_type,quantity,colour\n,ws_acme,query,3,red\n")
    result = atlas(url, "usage", "ingest", str(bad))
    assert result.exit_code == 2 and result.stderr == (
        "Error: line 1: unknown CSV header column 'colour' "
        "(the columns are id, workspace_id, user_id, event_type, quantity, metadata, created_at)\n"
    )
    assert event_count(db) == 0


@pytest.mark.parametrize("option", ["--rejects", "--spool"])
def test_an_output_in_a_missing_directory_is_one_line_before_reading(
    events_db: tuple[str, Database], tmp_path: Path, option: str
) -> None:
    url, db = events_db
    where = tmp_path / "no" / "such" / "dir"
    target = where / "out.jsonl" if option == "--rejects" else tmp_path / "a-file" / "out.jsonl"
    (tmp_path / "a-file").write_text("")
    result = atlas(url, "usage", "ingest", "-", option, str(target), input=jsonl(line(id=new_id(1))))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith(f"Error: {option}: cannot write {target}: ") and "Traceback" not in result.output
    assert event_count(db) == 0


def test_a_stdin_ingest_leaves_no_spool_file_when_it_needs_none(
    events_db: tuple[str, Database], tmp_path: Path
) -> None:
    url, _db = events_db
    assert atlas(url, "usage", "ingest", "-", input=jsonl(line())).exit_code == 0
    assert not list((tmp_path / "data").rglob("*.spool.jsonl"))


def test_a_line_over_max_line_bytes_is_rejected(events_db: tuple[str, Database]) -> None:
    url, db = events_db
    text = jsonl(line(id=new_id(1)), line(id=new_id(2), metadata={"k": "x" * 500}), line(id=new_id(3)))
    result = atlas(url, "usage", "ingest", "-", "--max-line-bytes", "200", "--json", input=text)
    assert result.exit_code == 2 and json.loads(result.stdout)["rejections"] == [
        {"line": 2, "reason": "line longer than 200 bytes (--max-line-bytes); not kept"}
    ]
    assert event_ids(db) == {new_id(1), new_id(3)}
    bad = atlas(url, "usage", "ingest", "-", "--max-line-bytes", "0", input=text)
    assert bad.exit_code == 2 and bad.stderr == "Error: --max-line-bytes must be at least 1, not 0\n"


def test_a_csv_without_event_type_column_writes_nothing(events_db: tuple[str, Database], tmp_path: Path) -> None:
    url, db = events_db
    bad = tmp_path / "bad.csv"
    bad.write_text("workspace_id,quantity\nws_acme,3\n")
    result = atlas(url, "usage", "ingest", str(bad))
    assert result.exit_code == 2 and "line 1: the CSV header" in result.stderr and event_count(db) == 0


@pytest.mark.postgres
def test_a_database_that_refuses_connections_ends_in_a_spool_that_ingests_later(
    pg_cluster: Any, pg_url: str, tmp_path: Path
) -> None:
    db = prepare(pg_url)
    db.dispose()
    name = pg_url.rsplit("/", 1)[1]
    source = tmp_path / "events.jsonl"
    source.write_text(jsonl(*(line(id=new_id(i) if i % 2 else None, quantity=i) for i in range(1, 8))))
    pg_cluster.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
    spool = tmp_path / "kept.jsonl"
    failed = atlas(pg_url, "usage", "ingest", str(source), "--spool", str(spool), "--flush-at", "3", "--json")
    assert failed.exit_code == 7, failed.output
    report = json.loads(failed.stdout)
    assert (report["accepted"], report["spooled"], report["spoolFile"]) == (0, 7, str(spool))
    assert (
        "database failed, writing stopped after 0 event(s)" in failed.stderr
        and f"atlas usage ingest {spool}" in failed.stderr
    )
    pg_cluster.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(sql.Identifier(name)))
    later = atlas(pg_url, "usage", "ingest", str(spool), "--json")
    assert later.exit_code == 0 and json.loads(later.stdout)["accepted"] == 7
    assert atlas(pg_url, "usage", "ingest", str(spool), "--json").stdout.count('"duplicates": 7') == 1
    assert totals(db) == {("ws_acme", "query"): 28}


# --- streaming and signals (a real process) -----------------------------------------------


def start_ingest(url: str, *args: str, session: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "atlas_cli", "--database-url", url, "usage", "ingest", "-", "--json", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=session,
    )


def send(proc: subprocess.Popen[bytes], *lines: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(jsonl(*lines).encode())
    proc.stdin.flush()


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_stream_is_flushed_on_the_interval_while_waiting_for_input(events_db: tuple[str, Database]) -> None:
    url, db = events_db
    proc = start_ingest(url, "--flush-interval", "100")
    try:
        send(proc, line(id=new_id(1)), line(id=new_id(2)))
        wait_for(lambda: event_count(db) == 2)  # stdin is still open: the interval wrote the batch
        send(proc, line(id=new_id(3)))
        wait_for(lambda: event_count(db) == 3)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out)["accepted"] == 3


@pytest.mark.parametrize("group", [False, True], ids=["process", "process-group"])
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_writes_the_waiting_batch_before_exit(
    events_db: tuple[str, Database], signum: int, code: int, group: bool
) -> None:
    """Sent to the process alone, or to its whole group as a terminal's Ctrl-C is (which on
    PostgreSQL reaches the background writer too). stdout closing shows no process was left."""
    url, db = events_db
    proc = start_ingest(url, "--flush-interval", "1000", session=group)
    try:
        send(proc, line(id=new_id(1)))
        wait_for(lambda: event_count(db) == 1)  # the process is reading: its first batch was written
        send(proc, *(line(id=new_id(i), quantity=i) for i in range(2, 9)))
        time.sleep(0.2)  # read at once, but not due for writing for another 0.8 s
        if group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    report = json.loads(out)
    assert report["stoppedBy"] == signal.Signals(signum).name and "after writing the waiting batch" in err.decode()
    assert report["lines"] == report["accepted"] == 8
    assert event_ids(db) == {new_id(i) for i in range(1, 9)}
    assert "Traceback" not in err.decode()


def test_a_signal_keeps_stdins_unterminated_line_raw_in_the_spool(
    events_db: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = events_db
    spool = tmp_path / "stdin.spool.jsonl"
    proc = start_ingest(url, "--flush-interval", "50", "--spool", str(spool))
    partial = line(id=new_id(2), quantity=1234567)[:-12].encode()
    try:
        assert proc.stdin is not None
        proc.stdin.write(jsonl(line(id=new_id(1))).encode() + partial)
        proc.stdin.flush()
        wait_for(lambda: event_count(db) == 1)  # the complete line was read and written
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    report = json.loads(out)
    assert (report["lines"], report["accepted"], report["rejected"]) == (1, 1, 0)
    assert report["incompleteLine"] == {"line": 2, "bytes": len(partial), "keptIn": str(spool)}
    assert spool.read_bytes().splitlines() == [
        f"# line 2: incomplete when stopped ({len(partial)} bytes), kept as read".encode(),
        partial,
    ]
    assert f"Line 2 was incomplete when reading stopped ({len(partial)} bytes)" in err.decode()
    assert event_ids(db) == {new_id(1)}


def children(pid: int) -> list[int]:
    """Ids of the live processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie nobody reaps holds nothing


def read_to_eof(stream: Any, timeout: float) -> bool:
    """Whether `stream` reaches end of file within `timeout` seconds (draining what comes)."""
    import select

    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([stream], [], [], left)
        if ready and not os.read(stream.fileno(), 65536):
            return True
    return False


@pytest.mark.postgres
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the writer process is forked on Linux only")
def test_kill_9_of_an_ingest_ends_its_writer_and_releases_the_callers_stdout(pg_url: str) -> None:
    """`atlas usage ingest f | cat` used to hang forever after `kill -9`: the writer process kept
    the pipe open (and a database connection)."""
    db = prepare(pg_url)
    proc = start_ingest(pg_url, "--flush-at", "1")
    writers: list[int] = []
    try:
        send(proc, line(id=new_id(1)))
        wait_for(lambda: event_count(db) == 1)  # written by the writer process, forked for the first batch
        writers = children(proc.pid)
        assert len(writers) == 1
        proc.kill()
        proc.wait(10)
        assert proc.stdout is not None and proc.stderr is not None
        assert read_to_eof(proc.stdout, 10), "the writer still holds the caller's stdout"
        assert read_to_eof(proc.stderr, 10), "the writer still holds the caller's stderr"
        wait_for(lambda: not any(alive(pid) for pid in writers))
    finally:
        proc.kill()
        for pid in writers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        db.dispose()


# --- aggregate, verify, export ------------------------------------------------------------


def test_aggregate_then_verify(events_db: tuple[str, Database]) -> None:
    url, _db = events_db
    atlas(url, "usage", "ingest", "-", input=jsonl(line(quantity=3), line("token", quantity=9, ws="ws_globex")))
    before = atlas(url, "usage", "verify", "--all", "--json")
    assert before.exit_code == 4
    mismatches = json.loads(before.stdout)["mismatches"]
    assert {(m["workspace_id"], m["period"]) for m in mismatches} == {
        ("ws_acme", "daily"),
        ("ws_acme", "monthly"),
        ("ws_globex", "daily"),
        ("ws_globex", "monthly"),
    }
    assert all(m["stored"] is None for m in mismatches)
    done = atlas(url, "usage", "aggregate", "--all", "--period", "monthly", "--json")
    assert done.exit_code == 0 and json.loads(done.stdout)["periods"][0]["period"] == "monthly"
    partly = atlas(url, "usage", "verify", "--all")
    assert partly.exit_code == 4 and "mismatch" in partly.stdout
    assert atlas(url, "usage", "aggregate", "--all").exit_code == 0
    after = atlas(url, "usage", "verify", "-w", "acme")
    assert after.exit_code == 0 and "Summaries match the raw events" in after.stdout
    both = atlas(url, "usage", "verify", "-w", "acme", "--all")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_export_round_trips_through_ingest(events_db: tuple[str, Database], tmp_path: Path) -> None:
    url, db = events_db
    lines = [
        line(
            "token" if i % 2 else "query",
            id=new_id(i),
            quantity=i,
            user_id=f"u{i % 3}",
            metadata={"i": i},
            created_at=f"2026-03-01T00:00:{i % 60:02d}.{i:06d}Z",
        )
        for i in range(1, 41)
    ]
    assert atlas(url, "usage", "ingest", "-", input=jsonl(*lines)).exit_code == 0
    ndjson = atlas(url, "usage", "export", "--fetch-size", "3")
    assert ndjson.exit_code == 0 and "Exported 40 event(s)." in ndjson.stderr
    rows = [json.loads(x) for x in ndjson.stdout.splitlines()]
    assert len(rows) == 40 and [(r["created_at"], r["id"]) for r in rows] == sorted(
        (r["created_at"], r["id"]) for r in rows
    )
    csv_out = atlas(
        url,
        "usage",
        "export",
        "-w",
        "acme",
        "--format",
        "csv",
        "--start",
        "2026-03-01",
        "--end",
        "2026-03-01",
        "--fetch-size",
        "7",
    )
    assert csv_out.exit_code == 0 and len(csv_out.stdout.splitlines()) == 41
    other = prepare(f"sqlite:///{tmp_path / 'copy.db'}")
    (tmp_path / "export.csv").write_text(csv_out.stdout)
    copied = runner.invoke(app, ["--database-url", other.url, "usage", "ingest", str(tmp_path / "export.csv")])
    assert copied.exit_code == 0, copied.output
    assert totals(other) == totals(db) and event_ids(other) == event_ids(db)
    other.dispose()
    bad = atlas(url, "usage", "export", "--format", "xml")
    assert bad.exit_code == 2 and "ndjson, csv" in bad.stderr


def test_export_honours_the_global_format(events_db: tuple[str, Database], monkeypatch: pytest.MonkeyPatch) -> None:
    """`atlas --format csv usage export` used to write ndjson without a word."""
    url, _db = events_db
    assert atlas(url, "usage", "ingest", "-", input=jsonl(line(id=new_id(1), quantity=2))).exit_code == 0
    header = "id,workspace_id,user_id,event_type,quantity,metadata,created_at"
    as_csv = runner.invoke(app, ["--database-url", url, "--format", "csv", "usage", "export"])
    assert as_csv.exit_code == 0 and as_csv.stdout.splitlines()[0] == header, as_csv.output
    for global_format in (["--format", "json"], ["--json"], ["--format", "table"]):
        ndjson = runner.invoke(app, ["--database-url", url, *global_format, "usage", "export"])
        assert ndjson.exit_code == 0 and json.loads(ndjson.stdout)["quantity"] == 2, global_format
    own = runner.invoke(app, ["--database-url", url, "--format", "csv", "usage", "export", "--format", "ndjson"])
    assert json.loads(own.stdout)["id"] == new_id(1)
    monkeypatch.setenv("ATLAS_FORMAT", "csv")
    assert atlas(url, "usage", "export").stdout.startswith(header + "\n")


def test_csv_booleans_are_written_true_and_false(events_db: tuple[str, Database]) -> None:
    url, _db = events_db
    args = ["usage", "record", "-w", "acme", "--type", "query", "--id", new_id(1), "--format", "csv"]
    first, again = atlas(url, *args), atlas(url, *args)
    assert first.stdout.splitlines()[0].endswith(",duplicate") and first.stdout.splitlines()[1].endswith(",false")
    assert again.stdout.splitlines()[1].endswith(",true")


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_a_closed_pipe_ends_export_quietly_with_exit_0(events_db: tuple[str, Database], fmt: str) -> None:
    """`atlas usage export | head` used to exit 1."""
    url, _db = events_db
    many = jsonl(*(line(id=new_id(i), metadata={"pad": "x" * 200}) for i in range(1, 2001)))  # far over a pipe's buffer
    assert atlas(url, "usage", "ingest", "-", input=many).exit_code == 0
    command = [sys.executable, "-m", "atlas_cli", "--database-url", url, "usage", "export", "--format", fmt]
    export = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2]
    )
    head = subprocess.run(["head", "-n", "1"], stdin=export.stdout, capture_output=True, timeout=60, check=True)
    assert export.stdout is not None and export.stderr is not None
    export.stdout.close()
    err = export.stderr.read().decode()
    assert export.wait(60) == 0, err
    assert err == "" and len(head.stdout.splitlines()) == 1
