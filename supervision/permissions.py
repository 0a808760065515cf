"""Who may use the supervision pages: one policy module for views, admin and jobs."""

from __future__ import annotations

from moderation.roles import is_service_user


def _staff(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active and not is_service_user(user)


def can_view_reports(user) -> bool:
    return _staff(user) and user.has_perm("supervision.view_reports")


def can_verify_chain(user) -> bool:
    return can_view_reports(user) and user.has_perm("moderation.verify_audit_chain")


def can_settle_qa(user) -> bool:
    return can_view_reports(user) and user.has_perm("supervision.settle_qa")


def can_edit_retention(user) -> bool:
    return can_view_reports(user) and user.has_perm("supervision.change_retentionrule")


def can_recall_detector(user) -> bool:
    return can_view_reports(user) and user.has_perm("supervision.recall_detector")


def can_qa_review(user) -> bool:
    """A blind second decision is a reviewer's job; supervisors settle, they do not decide."""
    from cases.permissions import can_review_cases

    return _staff(user) and can_review_cases(user)


def can_qa_review_sample(user, sample) -> bool:
    """Never the reviewer who decided first (nor anyone who decided the case)."""
    if not can_qa_review(user):
        return False
    if sample.original_reviewer_id == user.pk:
        return False
    return not sample.case.decisions.filter(decided_by=user).exists()
