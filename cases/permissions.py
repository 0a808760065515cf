"""Who may do what with cases: one policy module, used by the admin, the API and views."""

from __future__ import annotations

from moderation.roles import is_service_user


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


def can_edit_routing(user) -> bool:
    return api_client_of(user) is None and user.is_authenticated and user.has_perm("cases.change_routingrule")
