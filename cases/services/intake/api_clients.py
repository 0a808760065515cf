"""API clients: platform and detector services, each its own service-role user."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from moderation.audit import record_event
from moderation.models import ApiClient, ApiClientKey, ApiScope, SignalSource
from moderation.roles import Role


def create_api_client(
    *, actor=None, name: str, allowed_sources: list[str] = (), scopes: list[str] = (ApiScope.SIGNALS,)
) -> tuple[ApiClient, str]:
    """A platform or detector client acting as a service-role user; returns the
    client and its key, which is stored hashed and shown only this once.

    Scopes: `signals` (send the listed sources, read the cases they joined) and
    `platform` (mirror the platform's facts), the latter for the platform's own client."""
    _check_grants(allowed_sources=allowed_sources, scopes=scopes)
    User = get_user_model()
    with transaction.atomic():
        username = f"api-{slugify(name)}"[:150]
        if ApiClient.objects.filter(name=name).exists() or User.objects.filter(username=username).exists():
            raise ValidationError({"name": f"An API client named {name!r} already exists."})
        user = User(username=username, is_staff=False, is_active=True)
        user.set_unusable_password()
        user.save()
        user.groups.add(Group.objects.get(name=Role.SERVICE))
        client = ApiClient(
            name=name, user=user, allowed_sources=sorted(set(allowed_sources)), scopes=sorted(set(scopes))
        )
        client.full_clean()
        client.save()
        key_row, key = ApiClientKey.objects.create_key(name=f"{name} key", client=client)
        record_event(
            actor=actor,
            verb="api_client.created",
            target=client,
            after={"sources": client.allowed_sources, "scopes": client.scopes},
        )
        record_event(actor=actor, verb="api_client.key_issued", target=client, after={"prefix": key_row.prefix})
    return client, key


def _check_grants(*, allowed_sources, scopes) -> None:
    if not scopes or set(scopes) - set(ApiScope.values):
        raise ValidationError({"scopes": f"Choose from {', '.join(ApiScope.values)}."})
    if set(allowed_sources) - set(SignalSource.values):
        raise ValidationError({"allowed_sources": f"Choose from {', '.join(SignalSource.values)}."})
    if ApiScope.SIGNALS in scopes and not allowed_sources:
        raise ValidationError({"allowed_sources": "A client with the signals scope needs at least one source."})
    if ApiScope.SIGNALS not in scopes and allowed_sources:
        raise ValidationError({"allowed_sources": "Signal sources need the signals scope."})
