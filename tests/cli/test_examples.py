"""The example scripts run against a real demo database and act on atlas's exit codes."""

import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo") / "data"
    env = {
        **os.environ,
        "ATLAS_DATA_DIR": str(data),
        "NO_COLOR": "1",
        "PYTHONPATH": str(ROOT),
        "ATLAS": f"{shlex.quote(sys.executable)} -m atlas_cli",
    }
    loaded = subprocess.run([sys.executable, "-m", "atlas_cli", "demo"], env=env, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    return env


def first_daily_summary(env):
    """The first day the nightly job aggregated, read from the database (not from the clock)."""
    from atlas_cli.config import DATABASE_FILE

    with sqlite3.connect(Path(env["ATLAS_DATA_DIR"]) / DATABASE_FILE) as conn:
        (first,) = conn.execute("SELECT min(period_start) FROM usage_summaries WHERE period = 'daily'").fetchone()
    assert first is not None, "the nightly job wrote no daily summary"
    return first[:10]


def run(script, *args, env):
    return subprocess.run(["bash", str(ROOT / "examples" / script), *args], env=env, capture_output=True, text=True)


def test_nightly_job_alerts_on_workspaces_at_warning_or_worse(demo_env, tmp_path):
    alert_file = tmp_path / "alert.txt"
    env = {**demo_env, "ALERT_COMMAND": f"cat > {shlex.quote(str(alert_file))}"}
    result = run("nightly-usage.sh", env=env)
    assert result.returncode == 0, result.stderr
    alert = alert_file.read_text()
    for flagged, code in (("ws_globex", 10), ("ws_initech", 11), ("ws_umbrella", 12), ("ws_pied_piper", 13)):
        assert f"{flagged} (exit {code})" in alert
    for fine in ("ws_acme", "ws_wayne", "ws_homelab", "ws_stark", "ws_hooli"):
        assert fine not in alert
    assert "approaching your plan's queries limit" in alert
    since = first_daily_summary(demo_env)  # where the job's aggregation began, whatever the date
    verify = subprocess.run(
        [sys.executable, "-m", "atlas_cli", "usage", "verify", "--all", "--since", since],
        env=demo_env,
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_nightly_job_fails_when_atlas_cannot_run(tmp_path):
    env = {
        **os.environ,
        "ATLAS_DATA_DIR": str(tmp_path / "none"),
        "ATLAS": f"{sys.executable} -m atlas_cli",
        "PYTHONPATH": str(ROOT),
    }
    assert run("nightly-usage.sh", env=env).returncode == 1


@pytest.mark.parametrize(
    ("workspace", "fail_on", "passes", "says"),
    [
        ("acme", "soft", True, "may proceed"),
        ("globex", "soft", True, "may proceed"),
        ("globex", "warning", False, "approaching"),
        ("initech", "soft", False, "grace buffer"),
        ("umbrella", "soft", False, "hard limit"),
        ("pied-piper", "soft", False, "trial has expired"),
    ],
)
def test_ci_gate(demo_env, workspace, fail_on, passes, says):
    result = run("ci-gate.sh", workspace, env={**demo_env, "FAIL_ON": fail_on})
    assert (result.returncode == 0) is passes
    assert says in result.stdout


def guard_queries(env):
    from atlas_cli.config import DATABASE_FILE

    with sqlite3.connect(Path(env["ATLAS_DATA_DIR"]) / DATABASE_FILE) as conn:
        (found,) = conn.execute("SELECT count(*) FROM usage_events WHERE user_id = 'guard-example'").fetchone()
    return found


@pytest.mark.parametrize(
    ("workspace", "code", "says", "recorded"),
    [
        ("acme", 0, "data explorer report for acme", 1),
        ("hooli", 16, "refused (not_entitled)", 0),
        ("globex", 12, "refused (max_usage_reached)", 0),
        ("pied-piper", 13, "refused (trial_expired)", 0),
    ],
)
def test_the_library_guard_example(demo_env, workspace, code, says, recorded):
    before = guard_queries(demo_env)
    script = str(ROOT / "examples" / "guard.py")
    result = subprocess.run([sys.executable, script, workspace], env=demo_env, capture_output=True, text=True)
    assert result.returncode == code, result.stdout + result.stderr
    assert says in result.stdout and not result.stderr
    assert guard_queries(demo_env) == before + recorded
