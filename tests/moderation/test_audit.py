"""The audit log as a transparency log: writers append without locks, the sequencer chains
and signs, and tampering by someone who owns the database is named by the verifier."""

import threading
import tracemalloc
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone

from moderation.audit import GENESIS_HASH, AuditLogIsAppendOnly, chain_walk_sql, entry_hash, record_event, verify_chain
from moderation.audit_heads import Head, head_sink, sign_head, verify_head
from moderation.audit_sequencer import AuditLogTampered, integration_status, run_sequencer
from moderation.models import AuditChainEntry, AuditEvent, AuditPending
from tests.db_support import audit_triggers_lifted
from tests.factories import AccountFactory, supervisor

pytestmark = pytest.mark.django_db

ON_POSTGRES = pytest.mark.skipif("connection.vendor != 'postgresql'")


def _record(n=3, actor=None):
    account = AccountFactory()
    with transaction.atomic():
        for i in range(n):
            record_event(
                actor=actor, verb="account.status_changed", target=account, before={"n": i}, after={"n": i + 1}
            )
    return list(AuditEvent.objects.order_by("id"))


def _chained(n=3):
    _record(n, actor=supervisor())
    run_sequencer()
    return list(AuditEvent.objects.order_by("chain_entry__seq"))


def _seq(event):
    return AuditChainEntry.objects.get(event_id=event.pk).seq


def _seqs():
    return sorted(AuditChainEntry.objects.values_list("seq", flat=True))


def _delete_event(event):
    """What a database owner deleting an event does: its chain entry goes too."""
    return (
        ("DELETE FROM moderation_auditchainentry WHERE event_id = %s", [event.pk]),
        ("DELETE FROM moderation_auditevent WHERE id = %s", [event.pk]),
    )


def _as_db_owner(*statements):
    """Tamper behind the guards' back, as a database owner would: triggers off for the moment."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK checks pending on the table
            cursor.execute("SET session_replication_role = replica")
            try:
                for sql, params in statements:
                    cursor.execute(sql, params)
            finally:
                cursor.execute("SET session_replication_role = origin")
            return
    with audit_triggers_lifted(), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


def _rehash_everything():
    """The attacker's last step: recompute every link with the project's own function."""
    with connection.cursor() as cursor:
        cursor.execute(chain_walk_sql())
        rows = cursor.fetchall()
    prev, updates = GENESIS_HASH, []
    for seq, _event_id, _stored, payload in rows:
        prev = entry_hash(prev, seq, payload)
        updates.append(("UPDATE moderation_auditchainentry SET hash = %s WHERE seq = %s", [prev, seq]))
    _as_db_owner(*updates)


# --- the write path ------------------------------------------------------------------------


def test_record_event_is_one_insert_with_the_chain_left_to_the_sequencer(django_assert_num_queries):
    account = AccountFactory()
    with transaction.atomic():
        with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):  # row and queue entry
            event = record_event(actor=None, verb="account.status_changed", target=account)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
                assert cursor.fetchone()[0] == 0
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert not AuditChainEntry.objects.filter(event_id=event.pk).exists()
    assert AuditPending.objects.filter(event_id=event.pk).exists()


def test_the_sequencer_chains_in_id_order_and_signs_a_head():
    events = _record(3)
    run = run_sequencer()
    assert run.integrated == 3
    entries = list(AuditChainEntry.objects.order_by("seq"))
    assert [(e.seq, e.event_id) for e in entries] == [(n, event.pk) for n, event in enumerate(events, start=1)]
    with connection.cursor() as cursor:
        cursor.execute(chain_walk_sql())
        payloads = [row[3] for row in cursor.fetchall()]
    assert entries[0].hash == entry_hash(GENESIS_HASH, 1, payloads[0])
    assert entries[2].hash == entry_hash(entries[1].hash, 3, payloads[2])
    assert not AuditPending.objects.exists()
    assert (run.head.size, run.head.root) == (3, entries[2].hash) and verify_head(run.head)
    assert head_sink().latest() == run.head
    report = verify_chain()
    assert report.ok and report.checked == 3 and report.heads_checked == 1 and report.newest_head_size == 3
    assert run_sequencer().integrated == 0 and len(head_sink().snapshot()) == 1  # nothing new, no new head


def test_a_commit_with_audit_rows_runs_the_sequencer_once(django_capture_on_commit_callbacks):
    account = AccountFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for _ in range(5):
            record_event(actor=None, verb="account.status_changed", target=account)
    assert len(callbacks) == 1
    assert _seqs() == [1, 2, 3, 4, 5]
    assert head_sink().latest().size == 5


def test_a_row_committing_late_with_a_lower_id_is_chained_once():
    _record(4)
    run_sequencer()
    # A writer that drew its id before the others and committed after the sequencer ran.
    late_id = min(AuditEvent.objects.values_list("id", flat=True)) - 1
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO moderation_auditevent (id, occurred_at, actor_label, verb, target_type, target_id, "
            'target_label, "before", "after", reason) '
            "VALUES (%s, %s, 'system', 'demo.seeded', 'x.y', '1', '', '{}', '{}', 'late')",
            [late_id, timezone.now()],
        )
        cursor.execute("INSERT INTO moderation_auditpending (event_id) VALUES (%s)", [late_id])
    assert run_sequencer().integrated == 1
    assert run_sequencer().integrated == 0
    assert AuditChainEntry.objects.get(event_id=late_id).seq == 5
    assert _seqs() == [1, 2, 3, 4, 5]
    assert verify_chain().ok


# --- the database guards ---------------------------------------------------------------------


def _refused(sql, params=(), because="append-only"):
    with pytest.raises(DatabaseError, match=because), transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql, params)


def test_database_refuses_every_change_to_events_and_chain_entries():
    events = _chained(2)
    first = events[0]
    _refused("UPDATE moderation_auditevent SET reason = 'x' WHERE id = %s", [first.pk])
    _refused("UPDATE moderation_auditevent SET reason = reason WHERE id = %s", [first.pk])  # not even a no-op
    _refused("DELETE FROM moderation_auditevent WHERE id = %s", [first.pk])
    _refused("UPDATE moderation_auditchainentry SET hash = %s WHERE seq = 1", ["f" * 64])
    _refused("UPDATE moderation_auditchainentry SET seq = 9 WHERE seq = 2")
    _refused("DELETE FROM moderation_auditchainentry WHERE seq = 1")
    unchained = _record(1)[-1]
    _refused("UPDATE moderation_auditevent SET reason = 'rewritten' WHERE id = %s", [unchained.pk])
    assert AuditEvent.objects.get(pk=first.pk).reason == ""
    assert _seqs() == [1, 2]


@ON_POSTGRES
def test_postgres_refuses_truncate_update_and_delete_at_statement_level():
    _chained(2)
    for table, column in (("moderation_auditevent", "reason"), ("moderation_auditchainentry", "hash")):
        _refused(f"TRUNCATE {table} CASCADE")
        _refused(f"DELETE FROM {table} WHERE false")  # no row touched, still refused
        _refused(f"UPDATE {table} SET {column} = {column} WHERE false")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE tgrelid IN "
            "('moderation_auditevent'::regclass, 'moderation_auditchainentry'::regclass) "
            "AND NOT tgisinternal AND tgtype & 1 = 0"  # statement-level
        )
        names = {name for (_, name) in cursor.fetchall()}
    assert names == {
        f"{table}_{what}"
        for table in ("moderation_auditevent", "moderation_auditchainentry")
        for what in ("no_update_statement", "no_delete_statement", "no_truncate")
    }
    assert AuditEvent.objects.count() == 2 and _seqs() == [1, 2]


def test_orm_cannot_update_or_delete_audit_rows():
    event = _chained(1)[0]
    event.reason = "rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == ""
    entry = AuditChainEntry.objects.get(event=event)
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        entry.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditChainEntry.objects.update(hash="f" * 64)
    with pytest.raises(AuditLogIsAppendOnly):
        AuditChainEntry.objects.all().delete()


def test_admin_offers_no_way_to_change_or_delete():
    user = supervisor(is_superuser=True)
    request = RequestFactory().get("/admin/moderation/auditevent/")
    request.user = user
    model_admin = site._registry[AuditEvent]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert not model_admin.get_actions(request)


@pytest.mark.django_db(transaction=True)
def test_event_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record_event(actor=None, verb="demo.seeded", target=AccountFactory())


def test_unregistered_verb_is_refused():
    with pytest.raises(ValueError, match="Unregistered"), transaction.atomic():
        record_event(actor=None, verb="made.up", target=AccountFactory())


# --- tampering as the database owner, each detected and named ---------------------------------


def test_an_edited_row_is_named():
    events = _chained(3)
    _as_db_owner(("UPDATE moderation_auditevent SET reason = 'nothing happened' WHERE id = %s", [events[1].pk]))
    report = verify_chain()
    assert not report.ok
    assert report.kinds == ("edited",) and report.broken_at == events[1].pk
    assert f"event #{events[1].pk} (position 2) edited" in report.problem
    assert report.checked == 1


@pytest.mark.parametrize("which", ["first", "middle"])
def test_a_deleted_row_is_named(which):
    events = _chained(3)
    gone, after = (events[0], events[1]) if which == "first" else (events[1], events[2])
    position = _seq(gone)
    _as_db_owner(*_delete_event(gone))
    report = verify_chain()
    assert report.kinds == ("deleted",) and report.broken_at == after.pk
    assert f"event at position {position} deleted" in report.problem


def test_a_deleted_chain_entry_is_named_and_its_event_counted_as_unchained():
    events = _chained(3)
    _as_db_owner(("DELETE FROM moderation_auditchainentry WHERE event_id = %s", [events[1].pk]))
    report = verify_chain()
    assert report.kinds == ("deleted", "unchained") and report.broken_at == events[2].pk
    assert "1 events are neither chained nor awaiting integration" in report.summary()


def test_an_event_deleted_behind_its_chain_entry_is_named():
    events = _chained(3)
    _as_db_owner(("DELETE FROM moderation_auditevent WHERE id = %s", [events[1].pk]))
    report = verify_chain()
    assert report.kinds == ("deleted",) and "event at position 2 deleted" in report.problem


def test_deleting_the_newest_rows_is_named_against_the_signed_head():
    events = _chained(3)
    _as_db_owner(*_delete_event(events[2]))
    report = verify_chain()
    assert report.kinds == ("truncated",)
    assert "newest events deleted" in report.problem and "covers 3 events" in report.problem
    assert "position 2" in report.problem


def test_a_truncated_table_is_named():
    _chained(3)
    if connection.vendor == "postgresql":
        _as_db_owner(("TRUNCATE moderation_auditchainentry, moderation_auditevent", []))
    else:
        _as_db_owner(("DELETE FROM moderation_auditchainentry", []), ("DELETE FROM moderation_auditevent", []))
    report = verify_chain()
    assert report.kinds == ("truncated",) and "table truncated" in report.problem
    assert "covers 3 events, the table has none" in report.problem


def test_an_edit_re_hashed_with_the_projects_own_function_is_named():
    events = _chained(2)
    _record(2)
    run_sequencer()  # a second head, at 4
    _as_db_owner(("UPDATE moderation_auditevent SET reason = 'nothing happened' WHERE id = %s", [events[1].pk]))
    _rehash_everything()
    report = verify_chain()
    assert "edited" not in report.kinds  # the chain itself holds
    assert report.kinds == ("rewritten",)
    assert "history rewritten" in report.problem and "positions 1-2" in report.problem


def test_deleting_a_row_renumbering_and_re_hashing_is_named():
    events = _chained(3)
    _as_db_owner(
        *_delete_event(events[1]),
        ("UPDATE moderation_auditchainentry SET seq = 2 WHERE event_id = %s", [events[2].pk]),
    )
    _rehash_everything()
    report = verify_chain()
    assert report.kinds == ("truncated",)  # the chain is consistent, but shorter than what was signed


def test_a_forged_head_is_named():
    _chained(2)
    sink = head_sink()
    genuine = sink.latest()
    sink.append(Head(5, "e" * 64, genuine.time, genuine.key, genuine.sig))  # an old signature on new numbers
    report = verify_chain()
    assert report.kinds == ("forged",) and "signed head no. 2 (size 5" in report.problem and "forged" in report.problem


def test_a_head_signed_with_another_key_is_forged(settings, tmp_path):
    _chained(2)
    ours = settings.AUDIT
    settings.AUDIT = {**ours, "SIGNING_KEY_FILE": str(tmp_path / "other.key"), "GENERATE_SIGNING_KEY": True}
    foreign = sign_head(size=2, root="e" * 64, when=timezone.now())
    settings.AUDIT = ours
    head_sink().append(foreign)
    report = verify_chain()
    assert report.kinds == ("forged",) and "signed head no. 2 (size 2" in report.problem


def test_the_sequencer_will_not_extend_a_chain_that_disagrees_with_its_heads():
    events = _chained(3)
    _as_db_owner(*_delete_event(events[2]))
    _record(1)
    with pytest.raises(AuditLogTampered, match="does not match the newest signed head"):
        run_sequencer()
    assert len(head_sink().snapshot()) == 1
    assert AuditPending.objects.count() == 1 and _seqs() == [1, 2]


def test_an_event_deleted_before_it_was_chained_does_not_stall_the_sequencer():
    _chained(2)
    doomed, kept = _record(2)[-2:]
    _as_db_owner(("DELETE FROM moderation_auditevent WHERE id = %s", [doomed.pk]))
    assert run_sequencer().integrated == 1
    assert not AuditPending.objects.exists() and _seq(kept) == 3
    assert verify_chain().ok  # the blind spot the README names: gone before it was chained


def test_verify_command_names_what_was_done():
    _record(3)
    call_command("verify_audit_chain")  # chains the three first
    first = AuditEvent.objects.get(chain_entry__seq=1)
    _as_db_owner(("UPDATE moderation_auditevent SET verb = 'role.assigned' WHERE id = %s", [first.pk]))
    with pytest.raises(CommandError, match=rf"broken at event #{first.pk}: event #{first.pk} \(position 1\) edited"):
        call_command("verify_audit_chain")


def test_verification_streams_in_bounded_memory():
    _record(2000)
    run_sequencer()
    tracemalloc.start()
    try:
        report = verify_chain(batch_size=100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok and report.checked == 2000
    assert peak < 1_000_000, peak  # 2,000 rows held at once would take several MB


# --- lag ------------------------------------------------------------------------------------------


def test_integration_lag_is_the_age_of_the_oldest_unchained_event(settings):
    _chained(1)
    assert integration_status().lag_seconds == 0 and not integration_status().alert
    _record(2)
    later = timezone.now() + timedelta(seconds=settings.AUDIT["MAX_INTEGRATION_DELAY_SECONDS"] + 1)
    status = integration_status(now=later)
    assert status.pending == 2 and status.alert and status.newest_head.size == 1
    run_sequencer()
    assert not integration_status(now=later).alert


# --- concurrency (PostgreSQL) --------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_writers_end_in_one_chain_with_every_event_once():
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    account = AccountFactory()
    errors, written = [], []
    start = threading.Barrier(20)

    def write(worker):
        try:
            start.wait()
            for n in range(15):
                with transaction.atomic():
                    event = record_event(
                        actor=None, verb="account.status_changed", target=account, after={"w": worker, "n": n}
                    )
                written.append(event.pk)  # after commit the inline sequencer has run, racing the others
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    run_sequencer()
    rows = list(AuditEvent.objects.values_list("id", "chain_entry__seq", "after"))
    assert sorted(pk for pk, _, _ in rows) == sorted(written) and len(written) == 300
    assert sorted(seq for _, seq, _ in rows) == list(range(1, 301))
    assert not AuditPending.objects.exists()
    assert {(a["w"], a["n"]) for _, _, a in rows} == {(w, n) for w in range(20) for n in range(15)}
    report = verify_chain()
    assert report.ok and report.checked == 300 and report.newest_head_size == 300
    sizes = [head.size for head in head_sink().snapshot()]
    assert sizes == sorted(set(sizes))  # heads reach the sink in increasing size


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_committed_chains_verify_in_parallel_keyset_blocks(settings):
    """Outside a caller's transaction the walk runs on several connections sharing one
    snapshot, in blocks of positions; it names the same tampering."""
    if connection.vendor != "postgresql":
        pytest.skip("parallel blocks are a PostgreSQL path")
    settings.AUDIT = {**settings.AUDIT, "VERIFY_CONNECTIONS": 3}
    events = _record(40)
    run_sequencer()
    report = verify_chain(batch_size=7)  # six blocks, the last one short
    assert report.ok and report.checked == 40 and report.newest_head_size == 40
    _as_db_owner(
        ("UPDATE moderation_auditevent SET reason = 'nothing happened' WHERE id = %s", [events[20].pk]),
        *_delete_event(events[30]),
    )
    report = verify_chain(batch_size=7)
    assert report.kinds == ("edited", "deleted") and report.broken_at == events[20].pk
    assert "position 31 deleted" in report.problems[1].text
