"""The README's first command works on a fresh machine: `make run` migrates a new SQLite
database and seeds the demo. The suite itself runs on PostgreSQL in CI, so without this
a migration that only PostgreSQL can apply (an ALTER TABLE SQLite lacks, a table rebuild
that breaks a trigger) would pass CI and leave `make run` broken."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db  # the suite's session set-up (migrated-rows snapshot) needs its database
ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_make_run_migrates_a_new_sqlite_database_and_seeds_the_demo(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "TEST_REDIS_URL_PER_WORKER"}
    }
    env.update(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DEMO_MAIL_DIR=str(tmp_path / "mail"),
        AUDIT_SIGNING_KEY_FILE=str(tmp_path / "audit-signing.key"),
        AUDIT_HEADS_PATH=str(tmp_path / "audit-heads.jsonl"),
    )

    migrated = _manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    seeded = _manage("seed_demo", env=env)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    assert "supervisor   / demo-pass-2026" in seeded.stdout
    checked = _manage("check", env=env)
    assert checked.returncode == 0, checked.stderr[-3000:]
