"""Staff roles as Django groups. The groups are created by a migration; their
permissions are synced after every migrate, once every app's permissions exist."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission


class Role:
    MODERATOR = "moderator"
    SENIOR_MODERATOR = "senior_moderator"
    APPEALS_REVIEWER = "appeals_reviewer"
    SUPERVISOR = "supervisor"
    SERVICE = "service"

    ALL = (MODERATOR, SENIOR_MODERATOR, APPEALS_REVIEWER, SUPERVISOR, SERVICE)
    STAFF = (MODERATOR, SENIOR_MODERATOR, APPEALS_REVIEWER, SUPERVISOR)
    # Only these review cases and QA samples, whatever a queue's allowed_roles says.
    CASE_REVIEWERS = (MODERATOR, SENIOR_MODERATOR)


_VIEW_PLATFORM = [
    "moderation.view_account",
    "moderation.view_story",
    "moderation.view_follow",
    "moderation.view_policy",
    "moderation.view_earningshold",
]
_WORK_CASES = [
    "cases.view_case",
    "cases.view_signal",
    "cases.view_evidence",
    "cases.view_queue",
    "cases.view_decision",
    "cases.view_enforcementaction",
    "cases.view_notice",
    "cases.view_outboxentry",
    "cases.view_strike",
    "cases.review_case",
    "cases.add_evidence",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.MODERATOR: _VIEW_PLATFORM + _WORK_CASES,
    Role.SENIOR_MODERATOR: _VIEW_PLATFORM + _WORK_CASES + ["cases.approve_severe", "cases.assign_case"],
    # Appeals reviewers read cases (the appeal page shows the original one) but never
    # review them: the second look at a decision must come from outside case review.
    Role.APPEALS_REVIEWER: _VIEW_PLATFORM
    + [p for p in _WORK_CASES if p not in ("cases.review_case", "cases.add_evidence")]
    + ["appeals.view_appeal", "appeals.view_appealfile", "appeals.review_appeal"],
    Role.SUPERVISOR: _VIEW_PLATFORM
    + [p for p in _WORK_CASES if p.split(".")[1].startswith("view_")]
    + [
        "cases.assign_case",
        "cases.mute_reporter",
        "cases.view_reporterstanding",
        "cases.change_queue",
        "cases.change_routingrule",
        "cases.add_routingrule",
        "cases.view_routingrule",
        "cases.view_cannedrationale",
        "cases.add_cannedrationale",
        "cases.change_cannedrationale",
        "appeals.view_appeal",
        "appeals.view_appealfile",
        "moderation.view_auditevent",
        "moderation.verify_audit_chain",
        "moderation.view_apiclient",
        "moderation.view_backgroundjob",
        "supervision.view_reports",
        "supervision.settle_qa",
        "supervision.recall_detector",
    ],
    Role.SERVICE: ["cases.send_signals"],
}


def has_role(user, role: str) -> bool:
    if not user or not user.is_authenticated:
        return False
    cache = getattr(user, "_role_names", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._role_names = cache
    return role in cache


def is_service_user(user) -> bool:
    return has_role(user, Role.SERVICE) or hasattr(user, "api_client")


def sync_role_permissions(sender=None, using="default", **kwargs):
    """Give each role exactly the permissions listed above (missing ones are skipped
    until the app that defines them is migrated)."""
    for role, perm_names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        perms = []
        for name in perm_names:
            app_label, codename = name.split(".")
            perm = Permission.objects.using(using).filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)
