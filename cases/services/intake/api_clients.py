"""API clients: platform and detector services, each its own service-role user."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from moderation.audit import record_event
from moderation.models import ApiClient, ApiClientKey, SignalSource
from moderation.roles import Role


def create_api_client(*, actor=None, name: str, allowed_sources: list[str]) -> tuple[ApiClient, str]:
    """A platform or detector client acting as a service-role user; returns the
    client and its key, which is stored hashed and shown only this once."""
    unknown = set(allowed_sources) - set(SignalSource.values)
    if unknown or not allowed_sources:
        raise ValidationError({"allowed_sources": f"Choose from {', '.join(SignalSource.values)}."})
    User = get_user_model()
    with transaction.atomic():
        username = f"api-{slugify(name)}"[:150]
        if ApiClient.objects.filter(name=name).exists() or User.objects.filter(username=username).exists():
            raise ValidationError({"name": f"An API client named {name!r} already exists."})
        user = User(username=username, is_staff=False, is_active=True)
        user.set_unusable_password()
        user.save()
        user.groups.add(Group.objects.get(name=Role.SERVICE))
        client = ApiClient(name=name, user=user, allowed_sources=sorted(set(allowed_sources)))
        client.full_clean()
        client.save()
        key_row, key = ApiClientKey.objects.create_key(name=f"{name} key", client=client)
        record_event(actor=actor, verb="api_client.created", target=client, after={"sources": client.allowed_sources})
        record_event(actor=actor, verb="api_client.key_issued", target=client, after={"prefix": key_row.prefix})
    return client, key
