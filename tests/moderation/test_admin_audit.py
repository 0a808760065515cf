"""Every change of who holds power, made in the admin, writes an audit row: API
clients, keys (issued, revoked), role groups, a user's groups and permissions
(`role.assigned`, m2m included), queues, routing rules and policy versions."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.forms import MultiWidget
from django.urls import reverse

from cases.models import Queue
from moderation.models import ApiClient, ApiClientKey, AuditEvent, Policy
from tests.cases.review_factories import service_user
from tests.factories import UserFactory, moderator

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = UserFactory(username="root", is_superuser=True)
    client.force_login(user)
    return client


def _fields(form, data):
    for name, bound in form.fields.items():
        value = form[name].value()
        widget = bound.widget
        key = form.add_prefix(name)
        if bound.disabled or value is None:
            continue
        if isinstance(widget, MultiWidget):
            for i, part in enumerate(widget.decompress(value)):
                data[f"{key}_{i}"] = "" if part is None else part
        elif isinstance(value, bool):
            if value:
                data[key] = "on"
        elif isinstance(value, list | tuple):
            data[key] = [getattr(v, "pk", v) for v in value]
        elif isinstance(value, dict):
            import json

            data[key] = json.dumps(value)
        else:
            data[key] = getattr(value, "pk", value)


def change_form_data(response) -> dict:
    """What the browser would post back unchanged: the admin form and its inlines."""
    data = {}
    _fields(response.context["adminform"].form, data)
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        _fields(formset.management_form, data)
        for form in formset.forms:
            _fields(form, data)
    return data


def edit(client, url, **changes):
    page = client.get(url)
    assert page.status_code == 200
    data = {**change_form_data(page), **changes, "_save": "Save"}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return response


def test_giving_a_user_a_role_in_the_admin_writes_role_assigned_with_before_and_after(root):
    user = moderator(username="mia")
    senior = Group.objects.get(name="senior_moderator")
    approve = Permission.objects.get(codename="approve_severe")
    edit(
        root,
        reverse("admin:auth_user_change", args=[user.pk]),
        groups=[Group.objects.get(name="moderator").pk, senior.pk],
        user_permissions=[approve.pk],
    )
    event = AuditEvent.objects.get(verb="role.assigned", target_id=str(user.pk))
    assert event.actor.username == "root"
    assert event.before == {"groups": ["moderator"], "permissions": []}
    assert event.after == {"groups": ["moderator", "senior_moderator"], "permissions": ["cases.approve_severe"]}
    assert set(user.groups.values_list("name", flat=True)) == {"moderator", "senior_moderator"}


def test_making_someone_superuser_is_audited(root):
    user = moderator(username="ola")
    edit(root, reverse("admin:auth_user_change", args=[user.pk]), is_superuser="on")
    event = AuditEvent.objects.get(verb="user.saved", target_id=str(user.pk))
    assert event.after["is_superuser"] is True and "is_superuser" in event.after["changed"]


def test_changing_a_roles_permissions_is_audited(root):
    group = Group.objects.get(name="appeals_reviewer")
    perm = Permission.objects.get(codename="review_case")
    current = list(group.permissions.values_list("pk", flat=True))
    edit(root, reverse("admin:auth_group_change", args=[group.pk]), permissions=[*current, perm.pk])
    event = AuditEvent.objects.get(verb="role.permissions_changed", target_id=str(group.pk))
    assert "cases.review_case" in event.after["permissions"]
    assert "cases.review_case" not in event.before["permissions"]


def test_api_client_changes_and_keys_issued_and_revoked_are_audited(root):
    bot = service_user("detector-x")
    client = ApiClient.objects.get(user=bot)
    edit(root, reverse("admin:moderation_apiclient_change", args=[client.pk]), scopes='["signals", "platform"]')
    assert AuditEvent.objects.get(verb="api_client.changed").after["scopes"] == ["signals", "platform"]

    response = root.post(
        reverse("admin:moderation_apiclientkey_add"), {"name": "rotated", "client": client.pk, "_save": "Save"}
    )
    assert response.status_code == 302
    key = ApiClientKey.objects.get(name="rotated")
    assert AuditEvent.objects.get(verb="api_client.key_issued").after == {"prefix": key.prefix}

    edit(root, reverse("admin:moderation_apiclientkey_change", args=[key.pk]), revoked="on")
    key.refresh_from_db()
    assert key.revoked
    assert AuditEvent.objects.get(verb="api_client.key_revoked").after["prefix"] == key.prefix


def test_keys_clients_and_roles_are_never_deleted_in_the_admin(root):
    group = Group.objects.get(name="moderator")
    assert root.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"}).status_code == 403
    assert Group.objects.filter(pk=group.pk).exists()


def test_editing_a_policy_publishes_a_new_version(root):
    current = Policy.objects.current().get(code="spam.duplicate")
    edit(root, reverse("admin:moderation_policy_change", args=[current.pk]), title="Posting the same thing again")
    newest = Policy.objects.current().get(code="spam.duplicate")
    assert newest.version == current.version + 1 and newest.title == "Posting the same thing again"
    current.refresh_from_db()
    assert not current.is_current and current.title != newest.title
    event = AuditEvent.objects.get(verb="policy.version_published")
    assert event.after["version"] == newest.version and event.before == {"version": current.version}


def test_queue_and_routing_rule_edits_are_audited(root):
    queue = Queue.objects.order_by("position").first()
    edit(root, reverse("admin:cases_queue_change", args=[queue.pk]), sla_hours=7)
    assert AuditEvent.objects.get(verb="queue.saved").after["sla_hours"] == 7
    rule = queue.routing_rules.first() or Queue.objects.exclude(routing_rules=None).first().routing_rules.first()
    edit(root, reverse("admin:cases_routingrule_change", args=[rule.pk]), is_active="")
    assert AuditEvent.objects.filter(verb="routing_rule.saved", target_id=str(rule.pk)).exists()
