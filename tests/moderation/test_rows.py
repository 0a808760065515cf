"""Reads a busy writer makes on every chunk come from prepared statements (rows.select,
setwise.read_any) and must give what the ORM gives: the same instances, JSON decoded,
unread columns deferred, each read counted like any other query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import OPEN_CASE_STATUSES, Case, CaseStatus
from cases.services.intake.case_opening import READ_FIELDS, read_open_cases
from moderation import rows, setwise
from moderation.models import Account, Policy
from tests.factories import AccountFactory, CaseFactory, StoryFactory, policy

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"),
]


def test_a_selected_row_is_the_instance_the_orm_reads_json_decoded():
    rule = policy("spam.duplicate")
    (selected,) = rows.select(Policy, where="id = %s", params=[rule.pk])
    as_orm = Policy.objects.get(pk=rule.pk)
    assert selected == as_orm
    for field in Policy._meta.concrete_fields:
        assert getattr(selected, field.attname) == getattr(as_orm, field.attname), field.name
    assert isinstance(selected.allowed_outcomes, list) and selected.allowed_outcomes == as_orm.allowed_outcomes
    assert not selected._state.adding and selected._state.db == "default"


def test_only_the_named_columns_are_read_and_the_rest_load_when_touched():
    account = AccountFactory(follower_count=1234)
    (partial,) = rows.select(Account, where="id = %s", params=[account.pk], only=("id", "platform_id"))
    assert partial.get_deferred_fields() == {f.attname for f in Account._meta.concrete_fields} - {"id", "platform_id"}
    assert partial.platform_id == account.platform_id
    with CaptureQueriesContext(connection) as queries:
        assert partial.follower_count == 1234
    assert len(queries) == 1


def test_a_prepared_read_is_counted_and_logged_like_an_orm_query():
    accounts = AccountFactory.create_batch(3)
    wanted = [a.platform_id for a in accounts] + ["nobody-has-this-id"]
    with CaptureQueriesContext(connection) as queries:
        found = setwise.read_any(Account, "platform_id", wanted)
        again = setwise.read_any(Account, "platform_id", wanted)  # prepared by now
    assert sorted(a.pk for a in found) == sorted(a.pk for a in again) == sorted(a.pk for a in accounts)
    assert len(queries) == 2
    assert all("platform_id" in query["sql"] and "ANY" in query["sql"] for query in queries.captured_queries)


def test_the_open_cases_on_a_chunks_subjects_are_those_the_orm_finds():
    writer, other = AccountFactory(), AccountFactory()
    story = StoryFactory(author=writer)
    on_account = CaseFactory(account=writer, story=None)
    on_story = CaseFactory(account=writer, story=story)
    CaseFactory(account=writer, story=story, status=CaseStatus.DISMISSED, decided_at=timezone.now())  # closed
    CaseFactory(account=other, story=None)  # another subject
    accounts = {a.platform_id: a for a in (writer, other)}

    found = read_open_cases({(writer.pk, None), (writer.pk, story.pk)}, accounts)

    as_orm = Case.objects.filter(status__in=OPEN_CASE_STATUSES, account=writer)
    assert {c.pk for cases in found.values() for c in cases} == set(as_orm.values_list("pk", flat=True))
    assert [c.pk for c in found[(writer.pk, None)]] == [on_account.pk]
    assert [c.pk for c in found[(writer.pk, story.pk)]] == [on_story.pk]
    case = found[(writer.pk, story.pk)][0]
    assert case.account is writer
    assert set(READ_FIELDS) | {"account_id"} >= {
        f.attname for f in Case._meta.concrete_fields if f.attname not in case.get_deferred_fields()
    }
