"""The genuineness profile on the appeal page: for every purged follower, and for a
suspended writer appealing; each part shown with its points, never a verdict."""

import pytest
from django.utils import timezone

from appeals import services
from appeals.selectors import follower_evidence
from tests.appeals.factories import applied_action, purge_followers_of
from tests.factories import SignalFactory, StoryFactory, supervisor

pytestmark = pytest.mark.django_db

STATEMENT = "These readers are real people; several of them comment on every story I write."


def test_each_purged_follower_has_its_profile_on_the_appeal_page(client, writer):
    purge = purge_followers_of(writer, genuine=1, fake=1)
    for _ in range(6):
        StoryFactory(author=purge.genuine[0])
    SignalFactory(account=purge.fake[0], payload={"device_hash": "farm-1"})
    appeal = services.file_appeal(
        account=writer,
        action=None,
        followers_dropped_on=timezone.localdate(),
        writer_statement=STATEMENT,
        contact_email=writer.email,
    )

    rows = {row.review.follower_id: row for row in follower_evidence(appeal)}
    genuine, fake = rows[purge.genuine[0].pk].profile, rows[purge.fake[0].pk].profile
    assert genuine["score"] > fake["score"]
    assert {p["key"]: p["points"] for p in genuine["parts"]}["writing"] == 2
    assert {p["key"]: p["points"] for p in fake["parts"]}["age"] == 0
    # the fake's own device hint belongs only to itself (a suspended account): no overlap with *other* fakes
    assert {p["key"]: p["points"] for p in fake["parts"]}["fakes"] == 2

    client.force_login(supervisor())
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()
    assert f"Genuineness profile of @{purge.genuine[0].handle}: {genuine['score']} of {genuine['max']} points" in page
    assert "not a verdict" in page


def test_a_suspended_writer_appealing_shows_the_writers_profile(client, writer):
    action = applied_action("account.suspend", account=writer)
    appeal = services.file_appeal(
        account=writer, action=action, writer_statement=STATEMENT, contact_email="w@example.com"
    )

    client.force_login(supervisor())
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()

    assert 'id="writer-genuineness"' in page
    assert f"Genuineness profile of @{writer.handle}" in page
    assert "Shared device or network with known fakes" in page and "no data" in page
