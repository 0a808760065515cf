"""The engagement-pattern builder finds a reading-club ring and leaves a normal community
of mutual followers alone."""

import pytest

from cases.evidence.engagement import engagement_pattern
from tests.cases.evidence_fixtures import make_community, make_ring, outsiders

pytestmark = pytest.mark.django_db


@pytest.fixture
def outside():
    return outsiders(60)


def test_the_ring_is_found_with_every_member(outside):
    ring = make_ring(30, outside_stories=outside)

    data = engagement_pattern(ring[0])

    assert data["is_ring"] is True
    assert {m["id"] for m in data["members"]} == {a.pk for a in ring[1:]}
    assert data["group"]["size"] == 30
    assert data["group"]["density"] == 1.0
    assert data["group"]["reciprocity"] == 1.0
    assert data["group"]["insularity"] >= 0.9
    assert all(check["met"] for check in data["checks"])


def test_a_normal_community_of_mutual_followers_of_the_same_size_is_not_a_ring(outside):
    community = make_community(30, outside_stories=outside)

    for account in community[:5]:
        data = engagement_pattern(account)
        assert data["is_ring"] is False
        assert data["group"]["size"] < 30
        assert not all(check["met"] for check in data["checks"])


def test_follows_alone_never_make_a_ring(outside):
    community = make_community(30, outside_stories=outside)

    data = engagement_pattern(community[0])

    assert data["summary"]["mutual_follows"] == 29
    assert data["is_ring"] is False


def test_an_account_with_no_engagement_has_an_empty_pattern():
    from tests.factories import AccountFactory

    data = engagement_pattern(AccountFactory())

    assert data["is_ring"] is False
    assert data["members"] == []
    assert [n["role"] for n in data["nodes"]] == ["account"]


def test_a_ring_member_engaging_widely_is_still_shown_with_its_neighbours(outside):
    ring = make_ring(8, outside_stories=outside)

    data = engagement_pattern(ring[3])

    roles = {n["role"] for n in data["nodes"]}
    assert roles == {"account", "member", "neighbour"}
    assert data["is_ring"] is True
    assert all(e["mutual"] for e in data["edges"] if e["a"] in {m.pk for m in ring} and e["b"] in {m.pk for m in ring})


def test_a_ring_hidden_in_a_crowd_of_mutual_readers_is_still_found(monkeypatch):
    """A popular ring member answers many readers: more reciprocal neighbours than the
    builder examines together. The ring must still come first."""
    import random
    from datetime import timedelta

    from django.utils import timezone

    from cases.evidence import engagement
    from tests.cases.evidence_fixtures import events
    from tests.factories import AccountFactory, StoryFactory

    monkeypatch.setattr(engagement, "CANDIDATES", 15)
    rng = random.Random(3)
    ring = make_ring(10, outside_stories=[])
    star = ring[0]
    star_story = StoryFactory(author=star)
    crowd = AccountFactory.create_batch(60)
    rows = []
    for reader in crowd:
        reader_story = StoryFactory(author=reader)
        for _ in range(rng.randint(6, 12)):
            rows.append(("read", reader, star_story, timezone.now() - timedelta(hours=rng.randint(1, 900))))
        for _ in range(rng.randint(5, 8)):
            rows.append(("response", star, reader_story, timezone.now() - timedelta(hours=rng.randint(1, 900))))
    events(rows)

    data = engagement.engagement_pattern(star)

    assert data["is_ring"] is True
    assert {m["id"] for m in data["members"]} == {a.pk for a in ring[1:]}
