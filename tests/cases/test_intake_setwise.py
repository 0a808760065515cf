"""The set-based ingest path on PostgreSQL (issue 16): a chunk's signals, evidence and
audit rows go in one statement each, its new cases by INSERT … ON CONFLICT on the
one-open-case rule. Eight posters sending batches larger than a chunk, with keys
repeated inside a batch and across batches, still store each key once, join the right
cases and leave an audit chain that verifies; a case another chunk opened a moment
before is joined, not opened twice."""

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from bench.against_raw import ingest_batches
from cases.models import OPEN_CASE_STATUSES, Case, Evidence, EvidenceKind, Signal
from cases.services.intake import CHUNK_SIZE, IngestResult
from cases.services.intake import chunk as chunk_module
from moderation.audit import verify_chain
from moderation.models import AuditEvent, SignalSource
from tests.cases.intake_helpers import detector_signal, make_client, reader_signal, send
from tests.factories import AccountFactory, StoryFactory

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/signals/"


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the set-based path and concurrent writers need PostgreSQL")


def post_at_once(api_key: str, batches: list[list[dict]]) -> list[tuple[int, object]]:
    """Each batch posted by its own thread (own connection), all released together."""
    barrier = threading.Barrier(len(batches))
    answers: list = [None] * len(batches)

    def poster(i: int) -> None:
        try:
            api = APIClient()
            api.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
            barrier.wait(timeout=10)
            response = api.post(URL, batches[i], format="json")
            answers[i] = (response.status_code, response.json())
        except Exception as exc:  # a 500 the test client raised: reported by the assertion
            answers[i] = (500, repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=poster, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return answers


def test_eight_posters_with_repeated_keys_store_each_once_join_cases_and_the_chain_verifies():
    _, api_key = make_client()
    batches = [rounds[0] for rounds in ingest_batches(0.3, prefix="sw")]
    assert len(batches) == 8 and len(batches[0]) > CHUNK_SIZE  # every post spans several chunks

    answers = post_at_once(api_key, batches)

    assert all(code in (200, 201) for code, _ in answers), [a for a in answers if a[0] not in (200, 201)]
    unique = {item["idempotency_key"] for b in batches for item in b}
    signals = {s.idempotency_key: s for s in Signal.objects.select_related("case", "policy")}
    assert set(signals) == unique and Signal.objects.count() == len(unique)

    stored = Counter()
    for (_, body), sent in zip(answers, batches, strict=True):
        seen = set()
        for item, result in zip(sent, body["results"], strict=True):
            key = item["idempotency_key"]
            assert (result["id"], result["case"]) == (signals[key].pk, signals[key].case_id)
            if key in seen:  # repeated inside the batch: the original, never a second row
                assert result["status"] == IngestResult.DUPLICATE
            seen.add(key)
            stored[key] += result["status"] == IngestResult.STORED
    assert set(stored.values()) == {1}, "each key answered 'stored' exactly once"

    cases = list(Case.objects.all())
    assert all(case.status in OPEN_CASE_STATUSES for case in cases)
    assert set(Counter((c.account_id, c.story_id, c.policy_family) for c in cases).values()) == {1}
    for s in signals.values():
        assert (s.case.account_id, s.case.story_id, s.case.policy_family) == (s.account_id, s.story_id, s.policy.family)
    on_case = Counter(s.case_id for s in signals.values())
    assert {c.pk: c.signal_count for c in cases} == dict(on_case)
    assert Evidence.objects.filter(kind=EvidenceKind.SIGNAL).count() == len(unique)
    assert Counter(Evidence.objects.filter(kind=EvidenceKind.SNAPSHOT).values_list("case_id", flat=True)) == Counter(
        {c.pk: 1 for c in cases}
    )

    audited = Counter(
        listed["id"]
        for after in AuditEvent.objects.filter(verb="signals.received").values_list("after", flat=True)
        for listed in after["signals"]
    )
    assert audited == Counter({s.pk: 1 for s in signals.values()})
    assert sorted(AuditEvent.objects.filter(verb="case.opened").values_list("case_ref", flat=True)) == sorted(
        c.pk for c in cases
    )
    assert verify_chain().ok


def test_the_same_batch_again_is_answered_with_the_originals_and_stores_nothing():
    _, api_key = make_client()
    batch = ingest_batches(0.3, prefix="again")[0][0]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    first = api.post(URL, batch, format="json")
    count = Signal.objects.count()

    again = api.post(URL, batch, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["stored"] == 0 and Signal.objects.count() == count
    assert [(r["id"], r["case"]) for r in again.json()["results"]] == [
        (r["id"], r["case"]) for r in first.json()["results"]
    ]


def test_a_case_another_chunk_opened_meanwhile_is_joined_not_opened_twice(monkeypatch):
    """The chunk read no open case on the subject (another chunk's insert was not yet
    committed); its INSERT … ON CONFLICT skips the case and the signal joins the other
    one, which keeps its snapshot and case.opened row."""
    detector = make_client()[0]
    platform = make_client(sources=(SignalSource.READER_REPORT,))[0]
    story = StoryFactory(is_paywalled=True)
    first = send(detector, detector_signal(story.author, story))
    real_read = chunk_module.read_open_cases
    calls = []

    def blind_first_read(subjects, accounts):
        calls.append(subjects)
        return {} if len(calls) == 1 else real_read(subjects, accounts)

    monkeypatch.setattr(chunk_module, "read_open_cases", blind_first_read)
    joined = send(platform, reader_signal(story.author, story, reporter=AccountFactory()))

    assert len(calls) == 2, "the skipped case was read back (then locked with the joined ones) to be joined"
    assert joined.status == IngestResult.STORED and joined.case_id == first.case_id
    case = Case.objects.get()
    assert (case.signal_count, case.reporter_count, case.automated_origin) == (2, 1, False)
    assert case.evidence.filter(kind=EvidenceKind.SNAPSHOT).count() == 1
    assert AuditEvent.objects.filter(verb="case.opened").count() == 1
    received = AuditEvent.objects.filter(verb="signals.received").order_by("-id").first()
    assert received.after["case"] == case.pk and received.before == {"automated_origin": True}
    assert [s["id"] for s in received.after["signals"]] == [joined.signal_id]
    assert verify_chain().ok
