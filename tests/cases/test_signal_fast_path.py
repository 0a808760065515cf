"""The fast lane of signal validation (cases.signal_fast_path) never disagrees with the
serializer: for any item it either defers (None) or returns what SignalSerializer
validates, as the SignalIn the service receives. Invalid items always defer, so their
400 and field messages are DRF's."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.against_raw import ingest_batches
from cases.api import SignalBatchSerializer, SignalIngestView, SignalSerializer, _to_signal_in
from cases.signal_fast_path import fast_validate
from tests.cases.intake_helpers import make_client
from tests.cases.test_signal_properties import signals

pytestmark = pytest.mark.django_db
UNSAFE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

identifiers = st.sampled_from(["a-1", "acct-7", " padded", "x" * 65, "", "tab\there", "ok.id", "é"])
texts = st.sampled_from(["", "Plain words.", "Two\nlines", " spaced ", "nul\x00", "x" * 5000]) | st.text(max_size=6)
plain = st.fixed_dictionaries(
    {
        "idempotency_key": identifiers | st.text(max_size=4),
        "source": st.sampled_from(["detector", "reader_report", "show_less", "staff"]),
        "account": identifiers,
    },
    optional={
        "story": identifiers | st.none(),
        "reporter": identifiers | st.none(),
        "reason": texts | st.none(),
        "policy": st.sampled_from(["ai.paywalled_generated", "spam.duplicate", "nope", "", None]),
        "detector": st.none()
        | st.fixed_dictionaries({"name": identifiers, "version": identifiers})
        | st.just({"name": "d"}),
        "score": st.sampled_from([0, 1, 0.5, 1.5, -0.1, True, "0.5", None, float("inf")]),
        "proposed_outcomes": st.lists(st.sampled_from(["hide", "remove", "label", "bogus"]), max_size=3)
        | st.just("hide"),
        "payload": st.sampled_from([{}, {"n": 1}, {"k": "nul\x00"}, [], "x", {"nested": {"a": [1, 2]}}]),
        "account_data": st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "handle": identifiers | st.sampled_from(["good_handle", "bad handle", "a+b"]),
                "follower_count": st.sampled_from([0, 5, -1, 2**31, "5", True, 1.0]),
                "display_name": texts,
                "partner_status": st.sampled_from(["not_enrolled", "active", "bogus"]),
            },
        ),
        "story_data": st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "kind": st.sampled_from(["story", "response", "bogus"]),
                "title": texts,
                "body": texts,
                "paywalled": st.sampled_from([True, False, "true", None]),
                "distribution": st.sampled_from(["general", "bogus"]),
            },
        ),
        "observed_at": st.sampled_from([None, "2026-01-01T00:00:00Z"]),
        "extra": st.integers(),
    },
)


@pytest.fixture
def client():
    return make_client("fast-lane", sources=("detector", "reader_report", "show_less", "staff"))[0]


def _drf(items, context):
    serializer = SignalBatchSerializer(data=items, context=context)
    return [_to_signal_in(v) for v in serializer.validated_data] if serializer.is_valid() else None


@settings(max_examples=400, deadline=None, suppress_health_check=UNSAFE)
@given(item=plain | signals)
def test_the_fast_lane_defers_or_agrees_with_the_serializer(client, item):
    context = SignalIngestView._context(client, [item])
    fast = fast_validate([item], child=SignalSerializer(context=context), many=True)
    drf = _drf([item], context)
    if fast is not None:
        assert drf is not None, item
        assert [_to_signal_in(v) for v in fast] == drf


def test_the_benchmark_batch_takes_the_fast_lane_with_the_same_result(client):
    batch = ingest_batches(0.1)[0][0]
    context = SignalIngestView._context(client, batch)
    fast = fast_validate(batch, child=SignalSerializer(context=context), many=True)
    assert fast is not None
    assert [_to_signal_in(v) for v in fast] == _drf(batch, context)


LIMIT = 64 * 1024  # SIGNAL_PAYLOAD_MAX_BYTES, as the serializer measures it (json.dumps, ASCII)


@pytest.mark.parametrize(
    ("payload", "fits"),
    [
        ({"t": "x" * (LIMIT - 8)}, True),  # '{"t":""}' is 8 bytes
        ({"t": "x" * (LIMIT - 7)}, False),
        ({"t": "é" * ((LIMIT - 8) // 6)}, True),  # 2 bytes in UTF-8, 6 as \u00e9
        ({"t": "é" * ((LIMIT - 8) // 6 + 1)}, False),
        ({"t": "😀" * ((LIMIT - 8) // 12)}, True),  # 4 bytes in UTF-8, 12 as a surrogate pair
        ({"t": "😀" * ((LIMIT - 8) // 12 + 1)}, False),
        ({"n": [1e16] * ((LIMIT - 8) // 6)}, True),  # "1e16," in orjson, "1e+16," in json.dumps
        ({"n": [1e16] * ((LIMIT - 8) // 6 + 1)}, False),
    ],
)
def test_the_fast_lane_measures_a_payload_as_the_serializer_does(client, settings, payload, fits):
    settings.MODERATION = {**settings.MODERATION, "SIGNAL_PAYLOAD_MAX_BYTES": LIMIT}
    item = {**ingest_batches(0.1)[0][0][0], "payload": payload}
    context = SignalIngestView._context(client, [item])
    fast = fast_validate([item], child=SignalSerializer(context=context), many=True)
    drf = _drf([item], context)
    assert (drf is not None) is fits
    assert (fast is not None) is fits
    if fits:
        assert [_to_signal_in(v) for v in fast] == drf
