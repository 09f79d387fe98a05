"""`--debug` output on stderr: every line scrubbed of the secrets atlas knows of (database
passwords in every form given, Stripe keys), so a traceback or a statement never leaks one."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterable
from urllib.parse import quote

SECRET_VARIABLES = ("DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")


def secrets_of(values: Iterable[str | None]) -> list[str]:
    """The strings to hide: each value whole, and the password of each database URL among them
    (raw and percent-encoded), longest first so that a longer secret is hidden before a part."""
    from atlas_cli.db import urls

    found: set[str] = set()
    for value in values:
        if not value or not value.strip():
            continue
        found.add(value.strip())
        password = urls.password(value)
        if password:
            found.update({password, quote(password, safe=""), quote(password)})
    return sorted(found, key=len, reverse=True)


def environment_secrets() -> list[str | None]:
    return [os.environ.get(name) for name in SECRET_VARIABLES]


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def write(message: str, secrets: Iterable[str]) -> None:
    sys.stderr.write("".join(f"debug: {line}\n" for line in scrub(message, secrets).splitlines()))


def traceback_text(exc: BaseException) -> str:
    """The traceback of `exc` with its causes, without locals."""
    return "".join(traceback.format_exception(exc))
