"""Who holds which power, changed only here and always audited: API clients and their
keys, role groups, a user's groups and permissions, policy versions. The admin calls
these (moderation/admin.py); each runs in the admin's transaction or its own."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction

from moderation.audit import record_event, register_verb

for _verb, _template in {
    "api_client.changed": "{actor} changed API client {target}",
    "api_client.key_changed": "{actor} changed a key of {target}",
    "role.permissions_changed": "{actor} changed the permissions of role {target}",
    "role.saved": "{actor} saved role {target}",
    "user.saved": "{actor} saved staff user {target}",
}.items():
    register_verb(_verb, _template)


def _require_superuser(actor) -> None:
    if actor is None or not actor.is_active or not actor.is_superuser:
        raise PermissionDenied("Only a superuser changes clients, keys, roles and policies.")


def _names(items: Iterable) -> list[str]:
    return sorted(str(getattr(i, "name", None) or i) for i in items)


def _perm_names(perms: Iterable) -> list[str]:
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in perms)


# API clients and keys ----------------------------------------------------------------


@transaction.atomic
def save_api_client(*, actor, client, changed: Iterable[str] = ()):
    _require_superuser(actor)
    created = client.pk is None
    client.full_clean()
    client.save()
    record_event(
        actor=actor,
        verb="api_client.created" if created else "api_client.changed",
        target=client,
        after={
            "changed": sorted(changed),
            "sources": client.allowed_sources,
            "scopes": client.scopes,
            "is_active": client.is_active,
        },
    )
    return client


@transaction.atomic
def issue_api_key(*, actor, key_row) -> str:
    """Store a new key (hashed) for its client; returns the key, shown once."""
    from moderation.models import ApiClientKey

    _require_superuser(actor)
    key = ApiClientKey.objects.assign_key(key_row)
    key_row.save()
    record_event(actor=actor, verb="api_client.key_issued", target=key_row.client, after={"prefix": key_row.prefix})
    return key


@transaction.atomic
def save_api_key(*, actor, key_row, changed: Iterable[str] = ()):
    """A change of an existing key: revoking it, renaming it, its expiry."""
    _require_superuser(actor)
    key_row.save()
    revoked = "revoked" in changed and key_row.revoked
    record_event(
        actor=actor,
        verb="api_client.key_revoked" if revoked else "api_client.key_changed",
        target=key_row.client,
        after={"prefix": key_row.prefix, "changed": sorted(changed), "revoked": key_row.revoked},
    )
    return key_row


# Roles and users ------------------------------------------------------------------------


@transaction.atomic
def save_group(*, actor, group, changed: Iterable[str] = ()):
    _require_superuser(actor)
    created = group.pk is None
    group.save()
    record_event(actor=actor, verb="role.saved", target=group, after={"created": created, "changed": sorted(changed)})
    return group


@transaction.atomic
def set_group_permissions(*, actor, group, permissions: Iterable) -> None:
    _require_superuser(actor)
    before = _perm_names(group.permissions.select_related("content_type"))
    group.permissions.set(list(permissions))
    after = _perm_names(group.permissions.select_related("content_type"))
    if before != after:
        record_event(
            actor=actor,
            verb="role.permissions_changed",
            target=group,
            before={"permissions": before},
            after={"permissions": after},
        )


@transaction.atomic
def save_staff_user(*, actor, user, changed: Iterable[str] = ()):
    """Saving a user; the flags that carry power are written out in the audit row."""
    _require_superuser(actor)
    created = user.pk is None
    user.save()
    record_event(
        actor=actor,
        verb="user.saved",
        target=user,
        after={
            "created": created,
            "changed": sorted(c for c in changed if c != "password"),
            "password_changed": "password" in changed,
            "is_active": user.is_active,
            "is_staff": user.is_staff,
            "is_superuser": user.is_superuser,
        },
    )
    return user


@transaction.atomic
def assign_roles(*, actor, user, groups: Iterable, permissions: Iterable) -> None:
    """Set a user's groups and own permissions; one `role.assigned` row with before and after."""
    _require_superuser(actor)

    def snapshot():
        return {
            "groups": _names(user.groups.all()),
            "permissions": _perm_names(user.user_permissions.select_related("content_type")),
        }

    before = snapshot()
    user.groups.set(list(groups))
    user.user_permissions.set(list(permissions))
    after = snapshot()
    if before != after:
        record_event(actor=actor, verb="role.assigned", target=user, before=before, after=after)


# Policy versions ------------------------------------------------------------------------


@transaction.atomic
def publish_policy_version(*, actor, edited):
    """An edit of a policy never changes the version decisions point at: it becomes
    version n+1, current from now on, and the old one stays for the record."""
    from moderation.models import Policy

    _require_superuser(actor)
    current = Policy.objects.select_for_update().filter(code=edited.code, is_current=True).first()
    latest = Policy.objects.filter(code=edited.code).order_by("-version").values_list("version", flat=True).first()
    if current is not None:
        Policy.objects.filter(pk=current.pk).update(is_current=False)
    edited.pk = None
    edited._state.adding = True
    edited.version = (latest or 0) + 1
    edited.is_current = True
    edited.full_clean()
    edited.save()
    carried = _carry_translations(previous=current, policy=edited)
    record_event(
        actor=actor,
        verb="policy.version_published",
        target=edited,
        before={"version": current.version if current else None},
        after={
            "version": edited.version,
            "allowed_outcomes": edited.allowed_outcomes,
            "default_outcomes": edited.default_outcomes,
            "repeat_outcomes": edited.repeat_outcomes,
            "translations_carried": carried,
            "strike_days": edited.strike_days,
            "escalation_window_days": edited.escalation_window_days,
            "escalation_ladder": edited.escalation_ladder,
        },
    )
    return edited


def _carry_translations(*, previous, policy) -> list[str]:
    """A new version whose writer-facing wording is unchanged keeps its translations;
    new wording is shown in English until translated."""
    from moderation.models import PolicyTranslation

    if previous is None or (previous.title, previous.description) != (policy.title, policy.description):
        return []
    rows = [
        PolicyTranslation(policy=policy, language=t.language, title=t.title, description=t.description)
        for t in previous.translations.all()
    ]
    PolicyTranslation.objects.bulk_create(rows)
    return sorted(row.language for row in rows)
