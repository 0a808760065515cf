"""Who may do what with cases: one policy module, used by the admin, the API and views."""

from __future__ import annotations

from moderation.roles import Role, has_role, is_service_user


def api_client_of(user):
    """The ApiClient a user acts for, or None for staff."""
    if user is None or not user.is_authenticated or not is_service_user(user):
        return None
    return getattr(user, "api_client", None)


def can_send_signals(user) -> bool:
    return api_client_of(user) is not None and user.has_perm("cases.send_signals")


def can_list_cases(user) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return user.has_perm("cases.view_case") or can_send_signals(user)


def can_view_case(user, case) -> bool:
    """Staff with view rights see every case; a client sees the cases its signals joined."""
    if user is None or not user.is_authenticated:
        return False
    client = api_client_of(user)
    if client is not None:
        return user.has_perm("cases.send_signals") and case.signals.filter(client=client).exists()
    return user.has_perm("cases.view_case")


def can_add_evidence(user, case) -> bool:
    return api_client_of(user) is None and user.is_authenticated and user.has_perm("cases.add_evidence")


def can_mute_reporter(user) -> bool:
    return api_client_of(user) is None and user.is_authenticated and user.has_perm("cases.mute_reporter")


def can_place_legal_hold(user) -> bool:
    return api_client_of(user) is None and user.is_authenticated and user.has_perm("cases.place_legal_hold")


def can_edit_routing(user) -> bool:
    return api_client_of(user) is None and user.is_authenticated and user.has_perm("cases.change_routingrule")


# Review (claiming, deciding, approving) ------------------------------------------


def _is_staff_person(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active and api_client_of(user) is None


def can_review_cases(user) -> bool:
    """A case reviewer by role (moderator, senior moderator) and permission. A queue
    opened to another role (appeals reviewers) does not make its members reviewers."""
    if not _is_staff_person(user) or not user.has_perm("cases.review_case"):
        return False
    return user.is_superuser or any(has_role(user, role) for role in Role.CASE_REVIEWERS)


def can_work_queue(user, queue) -> bool:
    """Claim and decide in this queue: a case reviewer whose role the queue allows."""
    if not can_review_cases(user):
        return False
    if user.is_superuser:
        return True
    return any(has_role(user, role) for role in queue.allowed_roles if role in Role.CASE_REVIEWERS)


def can_decide(user, case) -> bool:
    return case.is_open and can_work_queue(user, case.queue)


def can_approve(user, decision) -> bool:
    """Four eyes: a senior moderator who is not the one who decided."""
    return (
        _is_staff_person(user)
        and user.has_perm("cases.approve_severe")
        and decision.decided_by_id != user.pk
        and decision.needs_approval
        and decision.approved_by_id is None
        and decision.rejected_by_id is None
    )


def can_approve_any(user) -> bool:
    """The role of the second person (four eyes), before looking at any decision."""
    return _is_staff_person(user) and user.has_perm("cases.approve_severe")


def can_assign(user) -> bool:
    return _is_staff_person(user) and user.has_perm("cases.assign_case")


def can_retry_actions(user) -> bool:
    return _is_staff_person(user) and (
        user.has_perm("cases.approve_severe") or user.has_perm("cases.assign_case") or user.is_superuser
    )
