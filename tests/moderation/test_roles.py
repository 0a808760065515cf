import pytest

from moderation.roles import Role
from tests.factories import appeals_reviewer, moderator, senior_moderator, staff, supervisor

pytestmark = pytest.mark.django_db


def test_every_role_group_exists():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.ALL)


def test_moderator_reviews_but_cannot_approve_severe_or_audit():
    user = moderator()
    assert user.has_perm("cases.review_case")
    assert not user.has_perm("cases.approve_severe")
    assert not user.has_perm("moderation.view_auditevent")
    assert not user.has_perm("appeals.review_appeal")


def test_senior_moderator_may_approve_severe_outcomes():
    user = senior_moderator()
    assert user.has_perm("cases.review_case")
    assert user.has_perm("cases.approve_severe")


def test_appeals_reviewer_reviews_appeals():
    user = appeals_reviewer()
    assert user.has_perm("appeals.review_appeal")
    assert not user.has_perm("cases.approve_severe")


def test_supervisor_reads_everything_and_audits_but_does_not_decide():
    user = supervisor()
    for perm in (
        "moderation.view_auditevent",
        "moderation.verify_audit_chain",
        "supervision.view_reports",
        "cases.view_case",
        "cases.view_decision",
        "appeals.view_appeal",
        "cases.mute_reporter",
    ):
        assert user.has_perm(perm), perm
    assert not user.has_perm("cases.review_case")
    assert not user.has_perm("moderation.change_auditevent")


def test_service_role_sends_signals_and_nothing_else():
    user = staff(Role.SERVICE, is_staff=False)
    assert user.has_perm("cases.send_signals")
    perms = user.get_all_permissions()
    assert perms == {"cases.send_signals"}
