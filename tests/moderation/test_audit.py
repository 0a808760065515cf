import threading

import pytest
from django.contrib.admin.sites import site
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from moderation.audit import AuditLogIsAppendOnly, record_event, verify_chain
from moderation.models import AuditEvent
from tests.factories import AccountFactory, supervisor

pytestmark = pytest.mark.django_db


def _record_three(actor):
    account = AccountFactory()
    with transaction.atomic():
        for verb in ("account.status_changed", "account.status_changed", "role.assigned"):
            record_event(actor=actor, verb=verb, target=account, before={"n": 1}, after={"n": 2}, reason="test")
    return list(AuditEvent.objects.order_by("id"))


def _raw(sql, params=()):
    """Tamper with the table behind the guards' back, as an attacker with DB access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
            cursor.execute(sql, params)
            cursor.execute("SET session_replication_role = origin")
        else:
            cursor.execute("DROP TRIGGER moderation_auditevent_no_update")
            cursor.execute("DROP TRIGGER moderation_auditevent_no_delete")
            cursor.execute(sql, params)


def test_events_are_chained_and_verify():
    events = _record_three(supervisor())
    assert events[0].prev_hash == "0" * 64
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    report = verify_chain()
    assert report.ok and report.checked == 3


def test_edited_row_is_named_as_first_broken_link():
    events = _record_three(supervisor())
    _raw("UPDATE moderation_auditevent SET reason = %s WHERE id = %s", ["nothing happened", events[1].pk])
    report = verify_chain()
    assert not report.ok
    assert report.broken_at == events[1].pk
    assert "content changed" in report.problem


def test_deleted_row_breaks_the_chain_at_the_next_event():
    events = _record_three(supervisor())
    _raw("DELETE FROM moderation_auditevent WHERE id = %s", [events[1].pk])
    report = verify_chain()
    assert report.broken_at == events[2].pk
    assert "missing" in report.problem


def test_verify_command_reports_the_broken_link():
    events = _record_three(supervisor())
    call_command("verify_audit_chain")
    _raw("UPDATE moderation_auditevent SET verb = 'role.assigned' WHERE id = %s", [events[0].pk])
    with pytest.raises(CommandError, match=f"#{events[0].pk}"):
        call_command("verify_audit_chain")


def test_orm_cannot_update_or_delete_audit_rows():
    event = _record_three(supervisor())[0]
    event.reason = "rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == "test"


def test_database_refuses_raw_update_and_delete():
    event = _record_three(supervisor())[0]
    for sql in (
        "UPDATE moderation_auditevent SET reason = 'x' WHERE id = %s",
        "DELETE FROM moderation_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).reason == "test"


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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain():
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    account = AccountFactory()
    errors = []

    def write(n):
        try:
            for _ in range(n):
                with transaction.atomic():
                    record_event(actor=None, verb="account.status_changed", target=account)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(10,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = verify_chain()
    assert report.ok and report.checked == 60
