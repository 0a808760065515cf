"""Eight platform services posting overlapping batches at once (issue 16): partly the
same idempotency keys, the same accounts, stories and readers, some of them new to the
back-office. Every post is answered (never a 500), every distinct signal is stored
once, and the cases come out as if the signals had arrived one by one.

PostgreSQL only (SQLite lets one writer in at a time). Each poster is a thread with
its own database connection, posting through the API."""

import threading
from collections import Counter, defaultdict

import pytest
from django.db import connection
from rest_framework.test import APIClient

from cases.models import OPEN_CASE_STATUSES, Case, Evidence, Signal
from moderation.models import AuditEvent, SignalSource
from tests.cases.intake_helpers import make_client

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/signals/"
POSTERS = 8
BATCH = 120  # the benchmark (python -m bench ingest) posts 1,000 per batch
STRIDE = 50  # poster p sends keys p*STRIDE … p*STRIDE+BATCH: each overlaps its neighbours'
ACCOUNTS, STORIES, READERS = 24, 16, 9


def signal(n: int) -> dict:
    """Signal number n, always the same body for the same key. Stories belong to the
    first STORIES accounts; every account and story is new, made from its data."""
    on_story = n % 3 == 0
    account = n % STORIES if on_story else n % ACCOUNTS
    body = {
        "idempotency_key": f"k-{n}",
        "account": f"acct-{account}",
        "account_data": {"handle": f"writer{account}", "follower_count": 10 * account},
    }
    if on_story:
        body["story"] = f"story-{account}"
        body["story_data"] = {"title": f"Story {account}", "body": "Delve.", "paywalled": True}
    if n % 7 == 0:
        return {**body, "source": "reader_report", "reporter": f"reader-{n % READERS}", "reason": "Generated."}
    code = "ai.paywalled_generated" if n % 2 else "spam.duplicate"
    return {
        **body,
        "source": "detector",
        "policy": code,
        "detector": {"name": "ai-text-classifier", "version": "2.3.0"},
        "score": round(0.5 + (n % 50) / 100, 2),
    }


def batch(poster: int) -> list[dict]:
    keys = list(range(poster * STRIDE, poster * STRIDE + BATCH))
    return [signal(n) for n in keys + keys[:10]]  # ten keys repeated within the batch, too


def post_all(api_key: str, batches: list[list[dict]]) -> list[tuple[int, object]]:
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
        thread.join(timeout=120)
    return answers


def test_eight_posters_with_overlapping_batches_get_answers_and_store_each_signal_once():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    _, api_key = make_client(sources=(SignalSource.DETECTOR, SignalSource.READER_REPORT))
    batches = [batch(p) for p in range(POSTERS)]

    answers = post_all(api_key, batches)

    # 200 when a neighbour's posts had already stored every signal of the batch.
    assert all(code in (200, 201) for code, _ in answers), [a for a in answers if a[0] not in (200, 201)]
    unique = {item["idempotency_key"] for b in batches for item in b}
    signals = {s.idempotency_key: s for s in Signal.objects.select_related("case")}
    assert set(signals) == unique and Signal.objects.count() == len(unique)

    stored = Counter()
    for (_, body), sent in zip(answers, batches, strict=True):
        assert body["stored"] + body["duplicates"] == len(sent)
        for item, result in zip(sent, body["results"], strict=True):
            key = item["idempotency_key"]
            assert result["id"] == signals[key].pk and result["case"] == signals[key].case_id
            stored[key] += result["status"] == "stored"
        assert all(r["status"] == "duplicate" for r in body["results"][BATCH:])  # the in-batch repeats
    assert set(stored.values()) == {1}, "each key answered 'stored' exactly once"

    # Cases joined as if one by one: one open case per subject and family, holding
    # exactly the signals on it, each with its evidence row and one snapshot per case.
    cases = list(Case.objects.select_related("account", "story"))
    assert all(case.status in OPEN_CASE_STATUSES for case in cases)
    subjects = Counter((c.account_id, c.story_id, c.policy_family) for c in cases)
    assert set(subjects.values()) == {1}
    per_case = defaultdict(list)
    for s in signals.values():
        assert s.case is not None
        assert (s.case.account_id, s.case.story_id) == (s.account_id, s.story_id)
        per_case[s.case_id].append(s.pk)
    assert {c.pk: c.signal_count for c in cases} == {pk: len(ids) for pk, ids in per_case.items()}
    assert Evidence.objects.filter(kind="signal").count() == len(unique)
    assert sorted(Counter(Evidence.objects.filter(kind="snapshot").values_list("case_id", flat=True)).values()) == [
        1
    ] * len(cases)

    # Every stored signal is named by exactly one signals.received audit row.
    audited = Counter(
        listed["id"]
        for after in AuditEvent.objects.filter(verb="signals.received").values_list("after", flat=True)
        for listed in after["signals"]
    )
    assert audited == Counter({s.pk: 1 for s in signals.values()})
    assert AuditEvent.objects.filter(verb="case.opened").count() == len(cases)
