"""The signed-in user of a request, read in one query.

Every staff request asks the same things right after loading its user: the roles
(`moderation.roles.has_role`), whether it is an API client's service user, and its
permissions (Django's ModelBackend: one query for the user's own, one for its groups').
Loaded lazily that is five queries a request; here one statement returns the user row
with all of them, read fresh on every request as before (a role taken away counts at
the next request): nothing is cached across requests. The statement is written once
(moderation.rows), not compiled by the ORM per request: compiling the equivalent
queryset costs more CPU than the five queries' round trips) and prepared once per
connection (moderation.rows.prepared_cursor: its three subqueries took PostgreSQL longer
to plan than to run). On SQLite the lazy reads stay.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from moderation.rows import columns, instance, prepared_cursor


@cache
def _statement(alias: str) -> str:
    from moderation.models import ApiClient

    user_model = get_user_model()
    qn = connection.ops.quote_name
    user_groups = user_model.groups.through._meta
    user_perms = user_model.user_permissions.through._meta
    group_perms = Group.permissions.through._meta
    perm, ct, group = Permission._meta, ContentType._meta, Group._meta
    name = f"ct.{qn('app_label')} || '.' || p.{qn('codename')}"
    # Table and column names from the models, quoted; the user id is a parameter.
    return (
        f"SELECT {columns(user_model, 'u')}, {columns(ApiClient, 'c')}, "  # noqa: S608
        f"ARRAY(SELECT g.{qn('name')} FROM {qn(group.db_table)} g JOIN {qn(user_groups.db_table)} ug "
        f"ON ug.{qn('group_id')} = g.{qn('id')} WHERE ug.{qn('user_id')} = u.{qn('id')}), "
        f"ARRAY(SELECT {name} FROM {qn(perm.db_table)} p JOIN {qn(ct.db_table)} ct ON ct.{qn('id')} = "
        f"p.{qn('content_type_id')} JOIN {qn(user_perms.db_table)} up ON up.{qn('permission_id')} = p.{qn('id')} "
        f"WHERE up.{qn('user_id')} = u.{qn('id')}), "
        f"ARRAY(SELECT {name} FROM {qn(perm.db_table)} p JOIN {qn(ct.db_table)} ct ON ct.{qn('id')} = "
        f"p.{qn('content_type_id')} JOIN {qn(group_perms.db_table)} gp ON gp.{qn('permission_id')} = p.{qn('id')} "
        f"JOIN {qn(user_groups.db_table)} ug ON ug.{qn('group_id')} = gp.{qn('group_id')} "
        f"WHERE ug.{qn('user_id')} = u.{qn('id')}) "
        f"FROM {qn(user_model._meta.db_table)} u LEFT JOIN {qn(ApiClient._meta.db_table)} c "
        f"ON c.{qn(ApiClient._meta.get_field('user').column)} = u.{qn('id')} WHERE u.{qn('id')} = %s"
    )


def signed_in_user(user_id):
    """The user with its roles, its API client (or the knowledge it has none) and its
    permissions in the caches Django's ModelBackend and has_role read; None if gone."""
    from moderation.models import ApiClient

    user_model = get_user_model()
    if connection.vendor != "postgresql":
        return user_model._default_manager.filter(pk=user_id).select_related("api_client").first()
    with prepared_cursor() as cursor:
        cursor.execute(_statement(connection.alias), [user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(user_model._meta.concrete_fields)
    user = instance(user_model, row[:width])
    client_row = row[width : width + len(ApiClient._meta.concrete_fields)]
    client = instance(ApiClient, client_row) if client_row[0] is not None else None
    user_model.api_client.related.set_cached_value(user, client)
    if client is not None:
        ApiClient.user.field.set_cached_value(client, user)
    roles, own, groups = row[-3:]
    user._role_names = set(roles)
    if not user.is_superuser:  # a superuser's permissions are all of them: Django reads them if asked
        user._user_perm_cache, user._group_perm_cache = set(own), set(groups)
        user._perm_cache = user._user_perm_cache | user._group_perm_cache
    return user


class StaffModelBackend(ModelBackend):
    """Django's ModelBackend whose per-request user load is `signed_in_user`."""

    def get_user(self, user_id):
        user = signed_in_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
