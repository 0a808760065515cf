"""Review next as one statement (cases.claim_statement) writes the audit rows the ORM
claim writes: the same verbs in the same order, by the same actor, about the same case,
with the same before/after and reason; and the chain verifies over them. PostgreSQL
only (SQLite runs the ORM claim itself)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import Case, CaseStatus
from cases.services import review
from moderation import claims
from moderation.audit import verify_chain
from moderation.audit_sequencer import integrate
from moderation.models import AuditEvent
from moderation.transitions import TransitionNotAllowed
from tests.cases.review_factories import account_case
from tests.factories import QueueFactory, moderator, supervisor


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement claim is PostgreSQL's")


def statement_claim(*, user, queue, now):
    return review.claim_next_case(user=user, queue=queue, now=now)


def orm_claim(*, user, queue, now):
    return review.claim_next_case_orm(user=user, queue=queue, now=now)


CLAIM_VERBS = ("claim.taken", "claim.renewed", "case.review_started")


def a_morning_of_claims(claim, now) -> list[tuple]:
    """Every path of a claim, through `claim`: a fresh case, pressing Review next again
    (own live lease), a lease that ran out taken by another reviewer, an escalated case,
    and a case a supervisor assigned but nobody started. Returns the audit rows of the
    queue's cases, people and cases by name."""
    queue = QueueFactory()
    first = account_case(queue=queue, priority=50)
    escalated = account_case(queue=queue, priority=40, status=CaseStatus.ESCALATED)
    assigned = account_case(queue=queue, priority=10)
    mira, malik, nour, zoe = moderator(), moderator(), moderator(), moderator()
    claims.assign_claim(assigned, to_user=zoe, by=supervisor(), lease=timedelta(hours=8), now=now)

    assert claim(user=mira, queue=queue, now=now) == first
    assert claim(user=mira, queue=queue, now=now + timedelta(minutes=1)) == first
    later = now + timedelta(minutes=30)
    assert claim(user=malik, queue=queue, now=later) == first
    assert claim(user=nour, queue=queue, now=later) == escalated
    assert claim(user=zoe, queue=queue, now=later) == assigned

    team = {mira: "mira", malik: "malik", nour: "nour", zoe: "zoe"}
    cases = {c.pk: name for c, name in ((first, "first"), (escalated, "escalated"), (assigned, "assigned"))}
    rows = AuditEvent.objects.filter(case_ref__in=cases, verb__in=CLAIM_VERBS).order_by("id")
    return [_plain(row, team, cases) for row in rows]


def _plain(row: AuditEvent, team: dict, cases: dict) -> tuple:
    """The row with its people and cases by name (each run has its own ids), its labels
    checked against what record_event writes for that actor and case."""
    actor = next(user for user in team if user.pk == row.actor_id)
    assert row.actor_label == actor.get_username()
    assert row.target_label == str(Case.objects.select_related("account").get(pk=row.case_ref))[:200]
    people = {user.pk: name for user, name in team.items()}

    def named(payload: dict) -> dict:
        return {k: people.get(v, v) if k == "assignee" else v for k, v in payload.items()}

    return (
        row.verb,
        team[actor],
        row.target_type,
        cases[int(row.target_id)],
        cases[row.case_ref],
        row.appeal_ref,
        named(row.before),
        named(row.after),
        row.reason,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("microsecond", [123_456, 0, 500], ids=["ms", "whole-second", "under-a-ms"])
def test_the_statement_writes_the_audit_rows_the_orm_claim_writes(microsecond):
    now = timezone.now().replace(microsecond=microsecond)

    by_orm = a_morning_of_claims(orm_claim, now)
    by_statement = a_morning_of_claims(statement_claim, now)

    assert by_statement == by_orm
    assert [row[0] for row in by_statement] == [
        "claim.taken",
        "case.review_started",
        "claim.renewed",
        "claim.taken",
        "claim.taken",
        "case.review_started",
        "claim.renewed",
        "case.review_started",
    ]
    integrate()
    report = verify_chain()
    assert report.ok, report.summary()
    assert report.pending == 0


@pytest.mark.django_db
def test_the_case_comes_back_as_stored():
    queue = QueueFactory()
    case = account_case(queue=queue)
    user = moderator()

    claimed = review.claim_next_case(user=user, queue=queue)

    stored = Case.objects.get(pk=case.pk)
    assert {f.attname: getattr(claimed, f.attname) for f in Case._meta.concrete_fields} == {
        f.attname: getattr(stored, f.attname) for f in Case._meta.concrete_fields
    }
    assert claimed.status == CaseStatus.IN_REVIEW and claimed.assignee == user
    assert claimed.account == case.account


@pytest.mark.django_db
def test_a_status_the_transition_table_does_not_allow_moves_nothing(monkeypatch):
    queue = QueueFactory()
    case = account_case(queue=queue, status=CaseStatus.ESCALATED)
    user = moderator()
    monkeypatch.setitem(review.CASE_FLOW, CaseStatus.ESCALATED, {CaseStatus.OPEN})

    with pytest.raises(TransitionNotAllowed):
        review.claim_next_case(user=user, queue=queue)

    case.refresh_from_db()
    assert case.status == CaseStatus.ESCALATED and case.assignee_id is None
    assert not AuditEvent.objects.filter(case_ref=case.pk, verb__in=CLAIM_VERBS).exists()
