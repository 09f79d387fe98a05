"""Database URLs: parsing every form the Atlas server's libpq accepts, the driver mapping, and
password masking (DESIGN section 2). sqlalchemy and psycopg are imported only when a URL is parsed.

A URL a parser rejects is never echoed, not even in part: it may hold a password.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from atlas_cli.errors import BadInput

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
POSTGRES_SCHEMES = ("postgres", "postgresql")
SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
DRIVER = "postgresql+psycopg"
SUPPORTED = "postgresql:// (or postgres://), a libpq key=value string, or sqlite:///PATH"
_ENCODE_HINT = "percent-encode @ / ? % in the user name and password as %40 %2F %3F %25"


def parse(url: str, name: str = "the database URL") -> URL:
    """`url` as a SQLAlchemy URL that keeps the scheme it was given (`postgres`, `postgresql`, ...).

    A libpq key=value string becomes a `postgresql` URL; a `password` (or `user`) given as a query
    parameter moves into the URL itself, where the masked form hides it. `name` says in messages
    where the URL came from (`DATABASE_URL`, `--database-url`).

    Raises:
        BadInput: an empty, unparsable or unsupported URL, or a bad port; the message never
            contains the URL.
    """
    text = url.strip()
    if not text:
        raise BadInput(f"{name} is empty; give {SUPPORTED}")
    match = _SCHEME.match(text)
    if match is None:
        if "=" in text:
            return _from_libpq("postgresql", text, name)
        raise BadInput(f"{name} is neither a URL nor a key=value string; give {SUPPORTED}")
    scheme = match["scheme"].lower()
    if scheme in POSTGRES_SCHEMES or scheme.startswith("postgresql+"):
        return _from_libpq(scheme, "postgresql://" + _encode_extra_at(text[match.end() :]), name)
    if scheme in SQLITE_SCHEMES:
        return _sqlite(text, name)
    raise BadInput(f"{name}: the scheme {scheme!r} is not supported; give {SUPPORTED}")


def normalize(url: str, name: str = "the database URL") -> str:
    """The URL to connect with, password included: PostgreSQL forms use the psycopg 3 driver.

    Raises:
        BadInput: see `parse`.
    """
    parsed = parse(url, name)
    if parsed.get_backend_name() == "sqlite":
        return url.strip()  # SQLite: as given (rendering would percent-encode the path)
    return _render(parsed.set(drivername=DRIVER), hide_password=False)


def mask(url: str, name: str = "the database URL") -> str:
    """`url` as it may be shown: its password, wherever it was given, replaced by `***`.

    Raises:
        BadInput: see `parse`.
    """
    parsed = parse(url, name)
    if parsed.get_backend_name() == "sqlite":
        return url.strip()
    return _render(parsed, hide_password=True)


def password(url: str) -> str | None:
    """The password in `url`, to scrub from messages that might repeat it; None if none or unparsable."""
    try:
        return parse(url).password
    except BadInput:
        return None


def _render(parsed: URL, *, hide_password: bool) -> str:
    """`parsed` as a URL that SQLAlchemy and libpq read alike: every part percent-encoded (SQLAlchemy's
    own rendering leaves spaces raw and a password without a user out)."""
    from urllib.parse import quote

    def q(text: str) -> str:
        return quote(text, safe="")

    text = parsed.drivername + "://"
    if parsed.username is not None or parsed.password is not None:
        text += q(parsed.username or "")
        if parsed.password is not None:
            text += ":" + ("***" if hide_password else q(parsed.password))
        text += "@"
    if parsed.host:
        text += f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    if parsed.port is not None:
        text += f":{parsed.port}"
    if parsed.database is not None:
        text += "/" + q(parsed.database)
    pairs = [
        (k, v) for k, values in sorted(parsed.query.items()) for v in ([values] if isinstance(values, str) else values)
    ]
    if pairs:
        text += "?" + "&".join(f"{q(k)}={q(v)}" for k, v in pairs)
    return text


def _encode_extra_at(rest: str) -> str:
    """An `@` in a password the way the Atlas server (a WHATWG URL parser) reads it: the last `@`
    of the authority ends the user info, earlier ones belong to it."""
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority = rest[:end]
    if authority.count("@") < 2:
        return rest
    userinfo, _, host = authority.rpartition("@")
    return userinfo.replace("@", "%40") + "@" + host + rest[end:]


def _from_libpq(scheme: str, conninfo: str, name: str) -> URL:
    """A URL from a libpq URI or key=value string, parsed by libpq itself (through psycopg)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(conninfo).items()}
    except psycopg.Error:
        raise BadInput(f"{name} cannot be parsed; {_ENCODE_HINT}") from None
    return _url(scheme, params, name)


def _url(scheme: str, params: dict[str, str], name: str) -> URL:
    from sqlalchemy.engine import URL

    user, secret, database = params.pop("user", None), params.pop("password", None), params.pop("dbname", None)
    host, port = params.pop("host", None), params.pop("port", None)
    _check_ports(port, name)
    if (host and ("," in host or host.startswith("/"))) or (port and "," in port):
        # several hosts, or a socket directory: the query form SQLAlchemy's psycopg dialect reads
        params.update({k: v for k, v in (("host", host), ("port", port)) if v})
        host = port = None
    return URL.create(
        scheme,
        username=user,
        password=secret,
        host=host or None,
        port=int(port) if port else None,
        database=database,
        query=params,
    )


def _check_ports(port: str | None, name: str) -> None:
    for part in (port or "").split(","):
        if part and not (part.isascii() and part.isdigit() and 1 <= int(part) <= 65535):
            raise BadInput(f"{name}: the port is not a number from 1 to 65535 (or {_ENCODE_HINT})")


def _sqlite(text: str, name: str) -> URL:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(text)
    except (ArgumentError, ValueError):
        raise BadInput(f"{name} cannot be parsed as a SQLite URL; give sqlite:///PATH") from None


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for another engine or an in-memory database."""
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    rest = rest.split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return Path(rest)
