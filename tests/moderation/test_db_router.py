"""Supervisor reports read from the `replica` alias (moderation/db_router.py), here a
test mirror of the default database, as a streaming replica would be in production."""

import pytest
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from moderation.db_router import reading_reports, reporting
from moderation.models import Account
from tests.factories import AccountFactory, supervisor

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def test_reports_read_through_the_replica_alias_and_writes_stay_on_the_primary(client):
    with override_settings(REPORTS_ON_REPLICA=True):
        assert reporting() == "replica"
        AccountFactory(handle="ada")
        with reading_reports(), CaptureQueriesContext(connections["replica"]) as replica:
            assert Account.objects.filter(handle="ada").exists()
            Account.objects.filter(handle="ada").update(display_name="Ada")
        assert replica.captured_queries and all("UPDATE" not in q["sql"] for q in replica.captured_queries)
        assert Account.objects.get(handle="ada").display_name == "Ada"

        client.force_login(supervisor())
        with CaptureQueriesContext(connections["replica"]) as replica:
            assert client.get("/admin/supervision/").status_code == 200
            assert client.get("/admin/supervision/transparency/").status_code == 200
        assert len(replica.captured_queries) >= 5


def test_without_the_setting_reports_read_from_default():
    with override_settings(REPORTS_ON_REPLICA=False), reading_reports() as alias:
        assert alias == "default"
        assert Account.objects.db == "default"
