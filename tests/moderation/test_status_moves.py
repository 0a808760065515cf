"""The database holds the transition tables too: every move between two statuses of a
case, an action and an appeal, made by a raw UPDATE that skips the services, is refused
by the database exactly when the service's table refuses it. This also catches drift: a
table changed in Python without a migration that follows it fails here."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from appeals.models import Appeal, AppealKind, AppealStatus
from appeals.services import DECISION_TRANSITIONS, START_REVIEW
from cases.models import ActionStatus, Case, CaseStatus, EnforcementAction
from cases.services.enforcement import ACTION_FLOW
from cases.services.requeue import REQUEUE_TRANSITIONS
from cases.services.review import CASE_FLOW
from tests.factories import CaseFactory, EnforcementActionFactory, appeals_reviewer, moderator

pytestmark = pytest.mark.django_db


def _moves(*tables) -> set[tuple[str, str]]:
    return {(str(source), str(target)) for table in tables for source, targets in table.items() for target in targets}


def _refused_by_the_database(model, pk: int, target: str) -> bool:
    """Try the move as a raw UPDATE; True only if the status-move rule refused it (other
    rules, such as a claim needing a lease, may refuse for their own reasons)."""
    table = connection.ops.quote_name(model._meta.db_table)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET status = %s WHERE id = %s", [target, pk])
            transaction.set_rollback(True)
    except IntegrityError as refusal:
        return "status moves" in str(refusal)
    return False


def _disagreements(model, statuses, allowed: set[tuple[str, str]], make) -> list[str]:
    wrong = []
    for source in statuses:
        row = make(source)
        for target in statuses:
            if target == source:
                continue
            refused = _refused_by_the_database(model, row.pk, target)
            if refused == ((source, target) in allowed):
                wrong.append(f"{source} → {target}: {'refused' if refused else 'let through'}")
    return wrong


def test_a_case_moves_in_the_database_only_as_its_flow_and_requeue_allow():
    reviewer = moderator()

    def case(status):
        closed = status in (CaseStatus.DECIDED, CaseStatus.DISMISSED)
        leased = status == CaseStatus.IN_REVIEW
        return CaseFactory(
            status=status,
            decided_at=timezone.now() if closed else None,
            assignee=reviewer if leased else None,
            claim_expires_at=timezone.now() + timedelta(minutes=15) if leased else None,
        )

    allowed = _moves(CASE_FLOW, REQUEUE_TRANSITIONS)
    assert _disagreements(Case, CaseStatus.values, allowed, case) == []


def test_an_action_moves_in_the_database_only_as_its_flow_allows():
    def action(status):
        now = timezone.now()
        return EnforcementActionFactory(
            status=status,
            applied_at=now if status in (ActionStatus.APPLIED, ActionStatus.REVERSED) else None,
            reversed_at=now if status == ActionStatus.REVERSED else None,
        )

    assert _disagreements(EnforcementAction, ActionStatus.values, _moves(ACTION_FLOW), action) == []


def test_an_appeal_moves_in_the_database_only_as_review_and_decision_allow():
    reviewer = appeals_reviewer()

    def appeal(status):
        action = EnforcementActionFactory(status=ActionStatus.APPLIED, applied_at=timezone.now())
        decided = status not in (AppealStatus.SUBMITTED, AppealStatus.IN_REVIEW)
        return Appeal.objects.create(
            decided_by=reviewer if decided else None,
            decided_at=timezone.now() if decided else None,
            account=action.account,
            kind=AppealKind.ACTION,
            action=action,
            writer_statement="I wrote it myself.",
            contact_email="w@example.com",
            tracking_token=secrets.token_urlsafe(24),
            status=status,
            submitted_at=timezone.now(),
        )

    allowed = _moves(START_REVIEW, DECISION_TRANSITIONS)
    assert _disagreements(Appeal, AppealStatus.values, allowed, appeal) == []


def test_the_refusal_names_the_move():
    case = CaseFactory(status=CaseStatus.DISMISSED, decided_at=timezone.now())
    with pytest.raises(IntegrityError, match="status moves"), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(status=CaseStatus.DECIDED)
