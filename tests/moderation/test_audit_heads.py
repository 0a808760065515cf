"""Signed heads: the key stays out of the database and production will not start without it;
heads go to a sink outside the database, one signed line each."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from moderation.audit_heads import FileHeadSink, Head, key_id, sign_head, signing_key, verify_head

ROOT = Path(__file__).resolve().parents[2]
STRIP_PREFIXES = (
    "AUDIT_",
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "SECURE_",
    "SESSION_",
    "CSRF_",
    "DJANGO_",
)


def _production(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(STRIP_PREFIXES)}
    clean.update(
        env,
        DJANGO_SETTINGS_MODULE="moderation.settings",
        SECRET_KEY="k" * 64 + "!@#$%^&*()",
        ALLOWED_HOSTS="bo.example",
    )
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_production_without_a_signing_key_refuses_to_start():
    out = _production("check")
    assert out.returncode != 0
    assert "ImproperlyConfigured" in out.stderr
    assert "AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE must be set when DEBUG is off" in out.stderr


def test_production_with_an_unreadable_or_foreign_key_fails_the_system_check(tmp_path):
    out = _production("check", AUDIT_SIGNING_KEY_FILE=str(tmp_path / "missing.key"))
    assert out.returncode != 0 and "moderation.E001" in out.stderr and "missing.key" in out.stderr
    assert not (tmp_path / "missing.key").exists()  # production never makes up a key
    (tmp_path / "rsa.key").write_text("not a key")
    out = _production("check", AUDIT_SIGNING_KEY_FILE=str(tmp_path / "rsa.key"))
    assert out.returncode != 0 and "moderation.E001" in out.stderr


def test_production_with_a_key_starts(tmp_path):
    key = tmp_path / "audit.key"
    made = _production("audit_signing_key", AUDIT_SIGNING_KEY="A" * 43 + "=")
    assert made.returncode == 0, made.stderr
    key.write_text(made.stdout)
    out = _production("check", "--deploy", "--fail-level", "WARNING", AUDIT_SIGNING_KEY_FILE=str(key))
    assert out.returncode == 0, out.stderr + out.stdout


def test_debug_generates_a_local_key_file_once(settings, tmp_path):
    path = tmp_path / "var" / "audit.key"
    settings.AUDIT = {**settings.AUDIT, "SIGNING_KEY": "", "SIGNING_KEY_FILE": str(path), "GENERATE_SIGNING_KEY": True}
    first = key_id(signing_key().public_key())
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    settings.AUDIT = {**settings.AUDIT, "SIGNING_KEY_FILE": str(path)}
    assert key_id(signing_key().public_key()) == first


def test_a_head_verifies_only_as_signed():
    head = sign_head(size=7, root="a" * 64, when=timezone.now())
    assert verify_head(head)
    for changed in (
        Head(8, head.root, head.time, head.key, head.sig),
        Head(head.size, "b" * 64, head.time, head.key, head.sig),
        Head(head.size, head.root, "2020-01-01T00:00:00+00:00", head.key, head.sig),
        Head(head.size, head.root, head.time, "0" * 16, head.sig),
        Head(head.size, head.root, head.time, head.key, "not base64!"),
    ):
        assert not verify_head(changed)


def test_the_file_sink_appends_lines_and_reads_back_a_snapshot(tmp_path):
    sink = FileHeadSink(tmp_path / "heads" / "audit-heads.jsonl")
    assert sink.latest() is None and list(sink.snapshot()) == []
    heads = [sign_head(size=n, root=f"{n:064x}", when=timezone.now()) for n in (1, 2)]
    for head in heads:
        sink.append(head)
    snapshot = sink.snapshot()
    sink.append(sign_head(size=3, root="c" * 64, when=timezone.now()))
    assert list(snapshot) == heads  # what was there when the walk began, no more
    assert sink.latest().size == 3
    with open(sink.path, "a") as handle:
        handle.write("garbage\n")
    last = list(sink.snapshot())[-1]
    assert last.size == 0 and not verify_head(last)


@pytest.mark.django_db
def test_the_file_sink_is_the_default_and_the_sequencer_writes_to_it(settings, tmp_path):
    from django.db import transaction

    from moderation.audit import record_event, verify_chain
    from moderation.audit_sequencer import run_sequencer
    from tests.factories import AccountFactory

    path = tmp_path / "audit-heads.jsonl"
    settings.AUDIT = {**settings.AUDIT, "HEAD_SINK": "moderation.audit_heads.FileHeadSink", "HEADS_PATH": str(path)}
    with transaction.atomic():
        record_event(actor=None, verb="demo.seeded", target=AccountFactory())
    head = run_sequencer().head
    assert path.read_text().strip() == head.to_line()
    assert verify_chain().ok
