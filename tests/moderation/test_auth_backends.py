"""A request's signed-in user comes with its roles, permissions and API client in one
query, read fresh on every request: a role taken away counts at the next one."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from moderation.auth_backends import StaffModelBackend, signed_in_user
from moderation.roles import Role, has_role, is_service_user
from tests.cases.intake_helpers import make_client
from tests.factories import UserFactory, moderator, senior_moderator

pytestmark = pytest.mark.django_db


def _as_django_reads(user):
    fresh = get_user_model().objects.get(pk=user.pk)
    return ModelBackend().get_all_permissions(fresh), set(fresh.groups.values_list("name", flat=True))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL; lazy reads elsewhere")
def test_the_user_its_roles_permissions_and_api_client_are_one_query():
    user = senior_moderator()
    user.user_permissions.add(Permission.objects.get(codename="mute_reporter"))
    with CaptureQueriesContext(connection) as queries:
        loaded = signed_in_user(user.pk)
        assert has_role(loaded, Role.SENIOR_MODERATOR) and not has_role(loaded, Role.MODERATOR)
        assert not is_service_user(loaded)
        assert loaded.has_perm("cases.approve_severe") and loaded.has_perm("cases.mute_reporter")
        assert not loaded.has_perm("supervision.view_reports")
        assert loaded.get_user_permissions() == {"cases.mute_reporter"}
    assert len(queries) == 1
    perms, roles = _as_django_reads(user)
    assert loaded.get_all_permissions() == perms and loaded._role_names == roles
    assert (loaded.username, loaded.email, loaded.password) == (user.username, user.email, user.password)


def test_a_service_user_arrives_with_its_api_client():
    client, _key = make_client(name="detector-one")
    loaded = signed_in_user(client.user_id)
    assert is_service_user(loaded)
    assert loaded.api_client == client and loaded.api_client.allowed_sources == client.allowed_sources
    assert loaded.api_client.user is loaded


def test_a_superuser_keeps_every_permission():
    boss = UserFactory(is_superuser=True)
    assert signed_in_user(boss.pk).get_all_permissions() == {
        f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")
    }


def test_gone_or_deactivated_users_are_signed_out():
    user = moderator()
    backend = StaffModelBackend()
    assert backend.get_user(user.pk) == user
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert backend.get_user(user.pk) is None
    assert backend.get_user(10**9) is None


def test_a_role_taken_away_counts_at_the_next_request(client):
    user = moderator()
    client.force_login(user)
    assert client.get("/admin/review/bulk/").status_code == 200
    user.groups.remove(Group.objects.get(name=Role.MODERATOR))
    assert client.get("/admin/review/bulk/").status_code == 403


def _prepared_runs(table: str) -> int:
    """How often this connection ran its prepared statements that read `table`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(generic_plans + custom_plans), 0), COUNT(*) FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            [f'%{table}"%'],
        )
        runs, statements = cursor.fetchone()
    assert statements <= 1, "one prepared statement, not one per request"
    return runs


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_user_statement_is_prepared_once_and_reused_by_every_request():
    user = moderator()
    before = _prepared_runs("auth_user_user_permissions")
    signed_in_user(user.pk)
    user.groups.clear()
    again = signed_in_user(user.pk)
    assert _prepared_runs("auth_user_user_permissions") == before + 2
    assert not has_role(again, Role.MODERATOR)  # prepared, and still read fresh
