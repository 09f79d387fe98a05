"""The PostgreSQL database a benchmark runs on: one given by URL, or a throwaway cluster.

The cluster is the one the tests start (tests/pgcluster.py: fsync off, data in RAM when it fits),
with any server settings given by `--pg-setting NAME=VALUE`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/pgcluster.py


def add_pg_setting_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting for the throwaway cluster, e.g. shared_buffers=2GB (repeatable)",
    )


@contextmanager
def postgres_database(given: str | None, pg_settings: list[str]) -> Iterator[str]:
    """The URL of an empty PostgreSQL database: `given`, or a new one in a throwaway cluster
    started with `pg_settings` (the NAME=VALUE strings of --pg-setting)."""
    if given:
        yield given
        return
    from tests.pgcluster import PostgresCluster

    settings = dict(setting.split("=", 1) for setting in pg_settings)
    with PostgresCluster(settings=settings) as cluster:
        shown = ", ".join(f"{name}={value}" for name, value in settings.items()) or "default shared_buffers"
        print(f"# PostgreSQL: a throwaway cluster (fsync and synchronous_commit off; {shown})", flush=True)
        yield cluster.create_database("atlas_bench")
