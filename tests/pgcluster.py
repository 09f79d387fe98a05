"""A throwaway PostgreSQL cluster for the test session.

The cluster is built with the machine's own server binaries (``initdb`` and
``pg_ctl``) in a fresh temporary directory, listens on 127.0.0.1 on a free
port, and is stopped (``-m immediate``) and deleted at the end.  Durability is
switched off, since nothing in it outlives the session.

When ``ATLAS_TEST_DATABASE_URL`` is set, that server is used instead and no
cluster is started; databases are still created and dropped on it per test.

``pg_ctl`` refuses to run as root, so as root the server runs as ``nobody``
(or, if that account is missing, a dedicated system user created on demand).

Only the standard library and psycopg 3 (for the admin SQL) are used here.
The small pure helpers at the bottom decide what the test suite does when
PostgreSQL is unavailable (skip locally, fail in CI).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

EXTERNAL_URL_ENV = "ATLAS_TEST_DATABASE_URL"
REQUIRE_POSTGRES_ENV = "ATLAS_REQUIRE_POSTGRES"
FALLBACK_USER = "atlas-pgtest"

_BIN_GLOB = "/usr/lib/postgresql/*/bin"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (and no external URL)."""


class PostgresStartError(RuntimeError):
    """The binaries are there, but the cluster could not be initialised or started."""


# --------------------------------------------------------------------------
# Locating binaries and running them
# --------------------------------------------------------------------------


def _version_key(bindir: str) -> tuple[int, ...]:
    version = Path(bindir).parent.name  # /usr/lib/postgresql/<version>/bin
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def find_pg_bin(name: str) -> str | None:
    """Path of a PostgreSQL server program: PATH first, then the newest
    ``/usr/lib/postgresql/<version>/bin`` (where Debian puts them)."""
    found = shutil.which(name)
    if found:
        return found
    for bindir in sorted(glob.glob(_BIN_GLOB), key=_version_key, reverse=True):
        candidate = os.path.join(bindir, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _clean_env() -> dict[str, str]:
    """The environment for initdb/pg_ctl/postgres: no PG* variables
    (PGDATA, PGPORT, PGHOST... would override what we pass)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env.pop("LANG", None)
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cluster_parent_dir() -> str | None:
    """Where to put the cluster: the RAM-backed /dev/shm when it is a roomy,
    world-writable tmpfs (CREATE DATABASE is ~10x faster there than on a
    disk mounted with ``discard``), else /tmp.  As root the directory must be
    reachable by the unprivileged server user, which a root-owned $TMPDIR
    might not be, so the default temp dir is only used otherwise."""
    try:
        st = os.statvfs("/dev/shm")
        mode = os.stat("/dev/shm").st_mode
        if st.f_bavail * st.f_frsize >= 512 * 1024 * 1024 and mode & 0o1777 == 0o1777:
            return "/dev/shm"
    except OSError:
        pass
    return "/tmp" if os.geteuid() == 0 else None


def _unprivileged_account() -> pwd.struct_passwd:
    """The account to run the server as when we are root."""
    for name in ("nobody", FALLBACK_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(FALLBACK_USER)


# --------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------


def _plain_url(url: str) -> str:
    """``postgresql+psycopg://...`` / ``postgres://...`` -> ``postgresql://...``."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    if scheme != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return urlunsplit(parts._replace(scheme=scheme))


def url_with_database(url: str, dbname: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(_plain_url(url))
    return urlunsplit(parts._replace(path="/" + dbname))


# --------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------


class PostgresCluster:
    """A PostgreSQL server for the test session.

    ``PostgresCluster()`` starts a private cluster; ``PostgresCluster(url)``
    uses an existing server (see :meth:`from_environment`).  ``url`` is the
    admin URL (database ``postgres``); :meth:`create_database` returns the URL
    of a new database on the same server.
    """

    def __init__(self, external_url: str | None = None, settings: Mapping[str, str] | None = None) -> None:
        """`settings`: extra server settings (name -> value) for a private cluster."""
        self.external_url = _plain_url(external_url) if external_url else None
        self.settings = dict(settings or {})
        self.url: str = self.external_url or ""
        self.port: int | None = None
        self.base_dir: Path | None = None
        self.timings: dict[str, float] = {}
        self._pg_ctl: str | None = None
        self._run_as: pwd.struct_passwd | None = None
        self._admin: psycopg.Connection | None = None
        self._server_version = 0
        self._started = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PostgresCluster:
        environ = os.environ if environ is None else environ
        return cls(environ.get(EXTERNAL_URL_ENV) or None)

    @property
    def is_external(self) -> bool:
        return self.external_url is not None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> PostgresCluster:
        if self._started:
            return self
        t0 = time.perf_counter()
        if not self.is_external:
            self._start_local()
        self._started = True
        self._admin_conn()  # fail early if the server is unreachable
        self.timings["start"] = time.perf_counter() - t0
        return self

    def stop(self) -> None:
        """Close the admin connection; stop and delete a private cluster.
        Safe to call more than once."""
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
        if self.base_dir is not None:
            data = self.base_dir / "data"
            if self._pg_ctl and (data / "postmaster.pid").exists():
                try:
                    self._run([self._pg_ctl, "-D", str(data), "stop", "-m", "immediate", "-w"], timeout=30)
                except (subprocess.SubprocessError, OSError):
                    self._kill_postmaster(data)
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
        self._started = False

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_local(self) -> None:
        initdb = find_pg_bin("initdb")
        pg_ctl = find_pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
                f"{_BIN_GLOB}; install PostgreSQL (Debian: apt-get install postgresql) "
                f"or set {EXTERNAL_URL_ENV}"
            )
        self._pg_ctl = pg_ctl
        if os.geteuid() == 0:
            self._run_as = _unprivileged_account()
        base = Path(tempfile.mkdtemp(prefix="atlas-pg-", dir=_cluster_parent_dir()))  # 0700
        self.base_dir = base
        atexit.register(self.stop)
        if self._run_as is not None:
            os.chown(base, self._run_as.pw_uid, self._run_as.pw_gid)
        data = base / "data"
        try:
            t0 = time.perf_counter()
            self._run(
                [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                timeout=120,
            )
            self.timings["initdb"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            self._start_server(data)
            self.timings["pg_ctl start"] = time.perf_counter() - t0
        except BaseException:
            self.stop()
            raise

    def _start_server(self, data: Path) -> None:
        log = self.base_dir / "postgres.log"  # type: ignore[operator]
        last_error = ""
        for _attempt in range(3):  # the free port may be taken in between: retry
            port = _free_port()
            options = " ".join(
                [
                    f"-p {port}",
                    "-c listen_addresses=127.0.0.1",
                    f"-k {shlex.quote(str(self.base_dir))}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=100",
                    *(f"-c {shlex.quote(f'{name}={value}')}" for name, value in self.settings.items()),
                ]
            )
            try:
                self._run(
                    [self._pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"],
                    timeout=90,
                )
            except PostgresStartError as exc:
                last_error = f"{exc}\n--- {log} ---\n{_tail(log)}"
                if "could not bind" in last_error or "already in use" in last_error:
                    continue
                raise PostgresStartError(last_error) from None
            self.port = port
            self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
            return
        raise PostgresStartError(last_error)

    def _run(self, cmd: list[str], timeout: float) -> None:
        kwargs: dict[str, object] = {}
        if self._run_as is not None:
            kwargs = {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}
        proc = subprocess.run(
            cmd,
            env=_clean_env(),
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,  # type: ignore[arg-type]
        )
        if proc.returncode != 0:
            raise PostgresStartError(f"{shlex.join(cmd)} exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}")

    @staticmethod
    def _kill_postmaster(data: Path) -> None:
        try:
            pid = int((data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGQUIT)  # SIGQUIT = immediate shutdown
        except (OSError, ValueError, IndexError):
            pass

    # -- admin SQL ---------------------------------------------------------

    def _admin_conn(self) -> psycopg.Connection:
        if not self._started:
            raise RuntimeError("PostgresCluster.start() has not been called")
        if self._admin is None or self._admin.closed or self._admin.broken:
            self._admin = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            self._server_version = self._admin.info.server_version
        return self._admin

    def execute(self, query: str | sql.Composable, params: tuple[object, ...] = ()) -> list[tuple]:
        """Run admin SQL on the ``postgres`` database; return the rows, if any."""
        cur = self._admin_conn().execute(query, params or None)
        return cur.fetchall() if cur.description else []

    def database_url(self, name: str) -> str:
        return url_with_database(self.url, name)

    def database_exists(self, name: str) -> bool:
        return bool(self.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))

    def terminate_connections(self, name: str) -> None:
        self.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (empty, or a copy of ``template``); return its URL.

        An empty database is copied from ``template0``, which nobody can connect
        to, so this also works on a shared external server.  Copying a template
        needs it to have no open connections: any are terminated first (and the
        copy retried, should one sneak in).
        """
        self._admin_conn()  # also learns the server version
        source = template or "template0"
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(source))
        if not self.is_external and self._server_version >= 150000:
            # Copying files (plus a checkpoint) beats WAL-logging every block for
            # these small databases; not forced on a shared external server.
            query = query + sql.SQL(" STRATEGY FILE_COPY")
        for attempt in range(5):
            if template is not None:
                self.terminate_connections(template)
            try:
                self.execute(query)
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, kicking out whoever is still connected."""
        self._admin_conn()
        ident = sql.Identifier(name)
        if self._server_version >= 130000:
            self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            return
        if self.database_exists(name):
            self.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
            self.terminate_connections(name)
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))

    def seal_template(self, name: str) -> None:
        """Make ``name`` safe to clone from: no new connections, none open."""
        self.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        self.terminate_connections(name)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------
# What to do when PostgreSQL is missing (pure helpers, unit-tested)
# --------------------------------------------------------------------------


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def postgres_required(environ: Mapping[str, str]) -> bool:
    """True in CI (``CI=true``) or with ``ATLAS_REQUIRE_POSTGRES=1``: there,
    PostgreSQL tests must really run."""
    return _truthy(environ.get("CI")) or _truthy(environ.get(REQUIRE_POSTGRES_ENV))


def unavailable_action(environ: Mapping[str, str]) -> Literal["fail", "skip"]:
    """What a PostgreSQL test does when no server can be had."""
    return "fail" if postgres_required(environ) else "skip"


def ci_guard_message(environ: Mapping[str, str], passed_postgres_tests: int) -> str | None:
    """The reason to fail the whole run, or None: when PostgreSQL is required,
    at least one test marked ``postgres`` must have run and passed."""
    if not postgres_required(environ) or passed_postgres_tests > 0:
        return None
    return (
        "PostgreSQL is required here (CI=true or ATLAS_REQUIRE_POSTGRES=1) but no test "
        "marked 'postgres' ran and passed: the PostgreSQL suite was skipped, deselected "
        "or failed. Install the PostgreSQL server binaries or set ATLAS_TEST_DATABASE_URL."
    )
