"""A chunk reads the open cases unlocked and locks the ones it joined only after its
signals and evidence are in (cases.services.intake.chunk): what another writer does to
such a case in between must not be lost or overwritten. Each test has a second
connection change the case while the chunk is between its inserts and its lock; that
connection must not wait for the chunk (it gives up after a few seconds if it does).
And a batch does not wait for keys another post holds while it has others to store.

PostgreSQL only: the point is row locks between real connections."""

import threading
import time

import pytest
from django.db import connection, connections

from cases.models import Case, Signal
from cases.services.intake import chunk as chunk_module
from cases.services.intake import ingest_signals
from moderation.audit import verify_chain
from moderation.mirror.concurrency import ADVISORY_NAMESPACE, _hashed
from tests.cases.intake_helpers import detector_signal, make_client, reader_signal, send
from tests.factories import AccountFactory, StoryFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks between connections")


def _meanwhile(monkeypatch, sql: str, params: list) -> list:
    """Run `sql` on another connection once, after the chunk's evidence is inserted and
    before it locks the cases it joined. Returns the list its outcome is appended to."""
    outcome: list = []
    insert_evidence = chunk_module._Chunk._insert_evidence

    def other_writer():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SET lock_timeout = '3s'")
                cursor.execute(sql, params)
            outcome.append("done")
        except Exception as exc:  # a lock wait: the chunk held the case through its inserts
            outcome.append(repr(exc))
        finally:
            other.close()

    def hooked(self):
        insert_evidence(self)
        if not outcome:
            thread = threading.Thread(target=other_writer)
            thread.start()
            thread.join(timeout=30)

    monkeypatch.setattr(chunk_module._Chunk, "_insert_evidence", hooked)
    return outcome


def test_a_case_closed_between_read_and_lock_does_not_take_the_chunks_signals(monkeypatch):
    _require_postgres()
    client, _ = make_client()
    story = StoryFactory()
    first = send(client, detector_signal(story.author, story))
    closed = Case.objects.get(pk=first.case_id)
    outcome = _meanwhile(
        monkeypatch,
        "UPDATE cases_case SET status = 'dismissed', decided_at = now() WHERE id = %s",
        [closed.pk],
    )

    second = send(client, detector_signal(story.author, story))

    assert outcome == ["done"]
    closed.refresh_from_db()
    assert closed.status == "dismissed"
    assert list(Signal.objects.filter(case=closed).values_list("pk", flat=True)) == [first.signal_id]
    assert closed.signal_count == 1
    assert closed.evidence.filter(kind="signal").count() == 1
    assert second.case_id not in (None, closed.pk)
    opened = Case.objects.get(pk=second.case_id)
    assert opened.status == "open" and opened.signal_count == 1
    assert list(Signal.objects.filter(case=opened).values_list("pk", flat=True)) == [second.signal_id]
    assert verify_chain().ok


def test_what_another_writer_changed_on_the_case_meanwhile_is_kept(monkeypatch):
    _require_postgres()
    client, _ = make_client()
    story = StoryFactory()
    first = send(client, detector_signal(story.author, story, score=0.6))
    case = Case.objects.get(pk=first.case_id)
    assert case.automated_origin
    # A reader's report joined the case a moment ago (it is no longer automated only).
    outcome = _meanwhile(monkeypatch, "UPDATE cases_case SET automated_origin = false WHERE id = %s", [case.pk])

    second = send(client, detector_signal(story.author, story, score=0.8))

    assert outcome == ["done"]
    assert second.case_id == case.pk
    case.refresh_from_db()
    assert case.automated_origin is False
    assert case.signal_count == 2
    assert case.max_detector_score == pytest.approx(0.8)
    assert verify_chain().ok


def test_a_human_signal_still_clears_automated_origin_on_a_case_it_joins(monkeypatch):
    _require_postgres()
    client, _ = make_client(sources=("detector", "reader_report"))
    account = AccountFactory()
    first = send(client, detector_signal(account, code="spam.duplicate"))
    case = Case.objects.get(pk=first.case_id)
    outcome = _meanwhile(monkeypatch, "UPDATE cases_case SET priority = priority WHERE id = %s", [case.pk])

    second = send(client, reader_signal(account, reporter=AccountFactory(), code="spam.duplicate"))

    assert outcome == ["done"]
    assert second.case_id == case.pk
    case.refresh_from_db()
    assert case.automated_origin is False
    assert case.signal_count == 2 and case.reporter_count == 1
    assert verify_chain().ok


def test_a_key_another_post_is_storing_is_left_for_last_and_the_rest_is_stored_meanwhile():
    """Two posts overlapping in part: the keys the other one holds are taken last
    (ingest_signals), so the batch's other accounts are stored, and committed, without
    waiting for it; then the held key is answered once the other post lets go."""
    _require_postgres()
    client, _ = make_client()
    busy_account, free_account = AccountFactory(), AccountFactory()
    held = detector_signal(busy_account, idempotency_key="held-elsewhere")
    free = detector_signal(free_account, idempotency_key="free")
    other = connections.create_connection("default")
    other.set_autocommit(False)
    with other.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_NAMESPACE, _hashed(f"{client.pk}:held-elsewhere")]
        )
    answered: list = []

    def post():
        try:
            answered.append(ingest_signals(client=client, items=[held, free]))
        finally:
            connection.close()

    thread = threading.Thread(target=post)
    thread.start()
    try:
        stored_meanwhile = _eventually(lambda: Signal.objects.filter(idempotency_key="free").exists())
        still_waiting = thread.is_alive()
    finally:
        other.rollback()
        other.close()
    thread.join(timeout=30)

    assert stored_meanwhile and still_waiting
    (results,) = answered
    assert [r.status for r in results] == ["stored", "stored"]
    assert Signal.objects.get(pk=results[0].signal_id).idempotency_key == "held-elsewhere"
    assert Case.objects.get(pk=results[0].case_id).account == busy_account
    assert verify_chain().ok


def _eventually(check, *, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False
