"""Near-duplicate content: a lightly edited copy is found, a story on the same topic is
not, and the index follows stories as intake and the platform mirror write them."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cases.evidence.similarity import compare, index_stories, near_duplicates
from cases.models import StoryBand, StorySignature
from cases.services.intake import create_api_client
from moderation.models import Story
from tests.cases.evidence_fixtures import LIGHT_EDIT, ORIGINAL, SAME_TOPIC, filler
from tests.factories import AccountFactory, StoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform_copy():
    rng = random.Random(5)
    now = timezone.now()
    original = StoryFactory(title="Repotting the fig", body=ORIGINAL, published_at=now - timedelta(days=30))
    copy = StoryFactory(title="Repotting the fig", body=LIGHT_EDIT, published_at=now - timedelta(days=2))
    topic = StoryFactory(title="How to repot a fig tree", body=SAME_TOPIC, published_at=now - timedelta(days=10))
    noise = [StoryFactory(title=f"Notes {i}", body=filler(rng)) for i in range(150)]
    index_stories(story_ids=[s.pk for s in (original, copy, topic, *noise)])
    return original, copy, topic


def test_a_lightly_edited_copy_is_found_and_a_story_on_the_same_topic_is_not(platform_copy):
    original, copy, topic = platform_copy

    found = near_duplicates(copy)

    assert [s.pk for s, _ in found] == [original.pk]
    assert found[0][1]["jaccard"] >= 0.6
    assert topic.pk not in {s.pk for s, _ in near_duplicates(original)}
    assert near_duplicates(topic) == []


def test_shared_passages_are_marked_on_both_sides(platform_copy):
    original, copy, _ = platform_copy

    cmp = compare(copy, original)

    shared = " ".join(s["text"] for s in cmp["b_segments"] if s["shared"])
    assert "teased them apart with a" in shared
    assert "wooden skewer" not in shared
    assert "Follow me for more gardening tips" in " ".join(s["text"] for s in cmp["a_segments"] if not s["shared"])
    assert cmp["shared_words"] > 100


def test_the_index_is_kept_incrementally_and_unchanged_text_is_not_resigned(platform_copy):
    original, _, _ = platform_copy
    bands_before = list(StoryBand.objects.filter(story=original).values_list("key", flat=True))

    assert index_stories(story_ids=[original.pk]) == 0
    Story.objects.filter(pk=original.pk).update(body="Something else entirely, about trains and timetables.")
    assert index_stories(story_ids=[original.pk]) == 1

    bands_after = list(StoryBand.objects.filter(story=original).values_list("key", flat=True))
    assert len(bands_after) == 16 and set(bands_after) != set(bands_before)


def test_stories_the_platform_mirror_sends_are_indexed_after_commit(django_capture_on_commit_callbacks):
    AccountFactory(platform_id="w-9", handle="nine")
    _, key = create_api_client(name="platform-mirror", scopes=["platform"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    body = [
        {"platform_id": "p-1", "sequence": 1, "author": "w-9", "title": "Fig", "body": ORIGINAL},
        {"platform_id": "p-2", "sequence": 1, "author": "w-9", "title": "Fig", "body": LIGHT_EDIT},
    ]

    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/platform/stories/", body, format="json").status_code == 201

    first, second = Story.objects.get(platform_id="p-1"), Story.objects.get(platform_id="p-2")
    assert StorySignature.objects.filter(story__in=[first, second]).count() == 2
    assert [s.pk for s, _ in near_duplicates(second)] == [first.pk]

    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            "/api/v1/platform/stories/",
            [{"platform_id": "p-2", "sequence": 2, "body": SAME_TOPIC}],
            format="json",
        )
    second.refresh_from_db()
    assert StoryBand.objects.filter(story=second).count() == 16
    assert near_duplicates(second) == []
    assert near_duplicates(first) == []


def test_stories_a_signal_creates_are_indexed(django_capture_on_commit_callbacks):
    from tests.cases.intake_helpers import detector_signal, make_client, send

    writer = AccountFactory()
    original = StoryFactory(body=ORIGINAL)
    index_stories(story_ids=[original.pk])
    client, _ = make_client()
    item = detector_signal(writer, code="spam.duplicate")
    item.story = "new-copy"
    item.story_data = {"title": "Fig", "body": LIGHT_EDIT}

    with django_capture_on_commit_callbacks(execute=True):
        send(client, item)

    copy = Story.objects.get(platform_id="new-copy")
    assert StorySignature.objects.filter(story=copy).exists()
    assert [s.pk for s, _ in near_duplicates(copy)] == [original.pk]


def test_the_backfill_command_indexes_every_story_once():
    from django.core.management import call_command

    StoryFactory.create_batch(5)
    call_command("index_stories", batch=2)

    assert StorySignature.objects.count() == Story.objects.count() == 5
    assert StoryBand.objects.count() == 5 * 16
    call_command("index_stories")
    assert StoryBand.objects.count() == 5 * 16
