"""Property tests (hypothesis) on signal validation: whatever a client sends, the
answer is a verdict (valid, or field errors), never an exception; and what passes
is safe to store."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from cases.api import SignalIngestView, SignalSerializer
from moderation.validation import bad_character
from tests.cases.intake_helpers import make_client
from tests.factories import StoryFactory

pytestmark = pytest.mark.django_db
UNSAFE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "idempotency_key",
    "source",
    "account",
    "story",
    "reporter",
    "reason",
    "account_data",
    "story_data",
    "policy",
    "detector",
    "score",
    "proposed_outcomes",
    "payload",
    "observed_at",
]
signals = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(FIELDS, json_values),
        "source": st.sampled_from(["detector", "reader_report", "staff", "show_less", "bogus"]),
        "policy": st.sampled_from(["ai.paywalled_generated", "spam.link_farm", "nope", ""]) | st.text(max_size=10),
        "detector": st.fixed_dictionaries({"name": st.text(max_size=10), "version": st.text(max_size=10)}),
        "score": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
        "account_data": st.fixed_dictionaries(
            {},
            optional={
                "handle": st.text(max_size=12),
                "follower_count": st.integers(),
                "email": st.text(max_size=12),
                "display_name": st.text(max_size=12),
            },
        ),
    },
)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@pytest.fixture
def detector_client():
    return make_client("prop-detector")[0]


@settings(max_examples=300, deadline=None, suppress_health_check=UNSAFE)
@given(item=signals)
def test_any_signal_gets_a_verdict_and_what_passes_is_storable(detector_client, item):
    serializer = SignalSerializer(data=item, context=SignalIngestView._context(detector_client, [item]))
    if not serializer.is_valid():
        assert serializer.errors
        return
    data = serializer.validated_data
    for text in _strings({k: v for k, v in data.items() if k != "policy"}):
        assert bad_character(text) is None
    assert 0 <= (data.get("account_data") or {}).get("follower_count", 0) < 2**31
    assert data.get("score") is None or 0 <= data["score"] <= 1
    assert isinstance(data.get("payload", {}), dict)


@settings(max_examples=60, deadline=None, suppress_health_check=UNSAFE)
@given(body=json_values | signals | st.lists(signals, max_size=3))
def test_the_signals_endpoint_never_answers_a_server_error(body):
    key = make_client()[1]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    StoryFactory()
    response = api.post("/api/v1/signals/", body, format="json")
    assert response.status_code in (200, 201, 400), response.content
