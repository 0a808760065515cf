"""A chunk's new signals travel as plain rows, not models (issue 16), yet every caller's
signal is still held to the model's field rules: a service caller (demo, import) that
hands over a bad value gets Django's ValidationError naming the field and nothing is
stored; the stored row and its evidence read back as the model would have written them."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cases.models import Evidence, EvidenceKind, Signal
from cases.services.intake import ingest_signals
from cases.services.intake.signal_rows import SignalRow, check
from moderation import setwise
from tests.cases.intake_helpers import detector_signal, make_client
from tests.factories import AccountFactory, StoryFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"detector_name": "d" * 101}, "detector_name"),
        ({"detector_version": "v" * 51}, "detector_version"),
        ({"idempotency_key": "k" * 129}, "idempotency_key"),
        ({"score": "high"}, "score"),
        ({"payload": {"when": object()}}, "payload"),
    ],
)
def test_a_service_caller_s_bad_value_is_refused_with_the_field_named_and_nothing_stored(fields, field):
    client, _ = make_client()
    account = AccountFactory()

    with pytest.raises(ValidationError) as refused:
        ingest_signals(client=client, items=[detector_signal(account, **fields)])

    assert field in refused.value.message_dict
    assert not Signal.objects.filter(client=client).exists()


def test_a_value_the_field_converts_is_stored_converted_as_full_clean_did():
    client, _ = make_client()
    account = AccountFactory()

    [result] = ingest_signals(client=client, items=[detector_signal(account, score="0.75")])

    assert Signal.objects.get(pk=result.signal_id).score == 0.75


def test_the_stored_signal_and_its_evidence_read_back_as_sent():
    client, _ = make_client()
    account = AccountFactory()
    story = StoryFactory(author=account)
    item = detector_signal(account, story, score=0.5, payload={"n": 1, "nested": {"a": [1]}}, reason="why")

    [result] = ingest_signals(client=client, items=[item])

    signal = Signal.objects.get(pk=result.signal_id)
    assert (signal.client, signal.account, signal.story, signal.case_id) == (client, account, story, result.case_id)
    assert (signal.detector_name, signal.score, signal.payload, signal.reason) == (
        "ai-text-classifier",
        0.5,
        {"n": 1, "nested": {"a": [1]}},
        "why",
    )
    evidence = Evidence.objects.get(signal=signal)
    assert (evidence.kind, evidence.case_id, evidence.title) == (
        EvidenceKind.SIGNAL,
        result.case_id,
        "ai-text-classifier 2.3.0: ai.paywalled_generated (score 0.50)",
    )
    assert Evidence.objects.filter(case_id=result.case_id, kind=EvidenceKind.SNAPSHOT).count() == 1


def test_check_passes_plain_rows_without_building_a_model(monkeypatch):
    account = AccountFactory()
    row = SignalRow(
        client_id=None,
        idempotency_key="k",
        source="staff",
        account=account,
        story=None,
        reporter=None,
        reason="",
        policy=None,
        detector_name="",
        detector_version="",
        score=None,
        proposed_outcomes=[],
        payload={"n": 1},
        observed_at=timezone.now(),
        set_aside=False,
    )
    monkeypatch.setattr(SignalRow, "model", lambda self: pytest.fail("full_clean ran for a plain row"))

    check(row)


def test_the_model_path_other_databases_take_stores_the_same_rows(monkeypatch):
    """SQLite bulk_creates models built from the rows (here forced on PostgreSQL)."""
    monkeypatch.setattr(setwise, "available", lambda: False)
    client, _ = make_client()
    account = AccountFactory()

    first, again = ingest_signals(client=client, items=[detector_signal(account, idempotency_key="same")] * 2)

    signal = Signal.objects.get(pk=first.signal_id)
    assert (signal.account, signal.case_id, signal.detector_name) == (account, first.case_id, "ai-text-classifier")
    assert (again.status, again.signal_id) == ("duplicate", first.signal_id)
    assert Evidence.objects.get(signal=signal).case_id == first.case_id
