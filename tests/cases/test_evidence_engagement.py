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
