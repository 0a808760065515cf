"""Races the database must settle: the same idempotency key posted twice at once, and
signals on one subject opening one case. PostgreSQL only (SQLite serialises writers)."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from cases.models import Case, Signal
from moderation.audit import verify_chain
from tests.cases.intake_helpers import detector_hit_body, make_client
from tests.factories import StoryFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
]
URL = "/api/v1/signals/"


def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL row locks")


def _hit(story, key):
    return detector_hit_body(story, key, proposed_outcomes=["paywall.remove"])


def _post_concurrently(key, bodies):
    barrier = threading.Barrier(len(bodies))
    responses = [None] * len(bodies)

    def worker(i):
        try:
            api = APIClient()
            api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
            barrier.wait(timeout=10)
            response = api.post(URL, bodies[i], format="json")
            responses[i] = (response.status_code, response.json())
        except Exception as exc:  # surfaced by the assertions below
            responses[i] = (500, repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return responses


def test_the_same_idempotency_key_posted_concurrently_is_stored_once():
    _require_postgres()
    _, key = make_client("detector")
    story = StoryFactory()
    responses = _post_concurrently(key, [_hit(story, "same-key")] * 6)

    assert all(code in (200, 201) for code, _ in responses), responses
    results = [body["results"][0] for _, body in responses]
    assert sorted(r["status"] for r in results) == ["duplicate"] * 5 + ["stored"]
    assert len({r["id"] for r in results}) == 1 and len({r["case"] for r in results}) == 1
    assert Signal.objects.filter(idempotency_key="same-key").count() == 1
    assert Case.objects.count() == 1
    assert verify_chain().ok


def test_concurrent_signals_on_one_subject_open_one_case():
    _require_postgres()
    _, key = make_client("detector")
    story = StoryFactory()
    responses = _post_concurrently(key, [_hit(story, f"key-{i}") for i in range(6)])

    assert [code for code, _ in responses] == [201] * 6, responses
    case = Case.objects.get()
    assert {body["results"][0]["case"] for _, body in responses} == {case.pk}
    assert case.signal_count == 6
    assert case.evidence.filter(kind="snapshot").count() == 1
    assert case.actions.filter(status="proposed").count() == 1
    assert verify_chain().ok


def test_the_same_batch_posted_concurrently_is_stored_once_and_cases_stay_single():
    _require_postgres()
    _, key = make_client("detector")
    stories = [StoryFactory() for _ in range(5)]
    batch = [_hit(stories[n % 5], f"batch-{n}") for n in range(40)]
    responses = _post_concurrently(key, [batch] * 3)

    assert all(code in (200, 201) for code, _ in responses), responses
    ids = [[r["id"] for r in body["results"]] for _, body in responses]
    assert ids[0] == ids[1] == ids[2]
    assert sum(body["stored"] for _, body in responses) == 40
    assert Signal.objects.count() == 40
    assert sorted(Case.objects.values_list("signal_count", flat=True)) == [8] * 5
    assert verify_chain().ok
