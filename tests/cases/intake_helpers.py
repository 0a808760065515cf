"""Helpers for the intake tests: API clients with keys, and signals as the API hands
them to the service."""

from cases.services.intake import SignalIn, create_api_client, ingest_signal
from moderation.models import Policy, SignalSource

_counter = iter(range(1, 10**9))


def detector_hit_body(subject, key="k-1", **extra) -> dict:
    """A detector's hit on a story as it is POSTed to /api/v1/signals/ (`extra` may
    replace any field, the story included)."""
    return {
        "idempotency_key": key,
        "source": "detector",
        "account": subject.author.platform_id,
        "story": subject.platform_id,
        "policy": "ai.paywalled_generated",
        "detector": {"name": "ai-text-classifier", "version": "2.3.0"},
        "score": 0.9,
        **extra,
    }


def make_client(name=None, sources=(SignalSource.DETECTOR,)):
    """(ApiClient, plaintext key)."""
    return create_api_client(name=name or f"client-{next(_counter)}", allowed_sources=list(sources))


def detector_signal(account, story=None, *, code="ai.paywalled_generated", score=0.9, **fields) -> SignalIn:
    return SignalIn(
        idempotency_key=fields.pop("idempotency_key", f"det-{next(_counter)}"),
        source=SignalSource.DETECTOR,
        account=account.platform_id,
        story=story.platform_id if story else None,
        policy=Policy.objects.current().get(code=code),
        detector_name=fields.pop("detector_name", "ai-text-classifier"),
        detector_version=fields.pop("detector_version", "2.3.0"),
        score=score,
        **fields,
    )


def reader_signal(account, story=None, *, reporter, source=SignalSource.READER_REPORT, code=None, **fields):
    return SignalIn(
        idempotency_key=fields.pop("idempotency_key", f"rdr-{next(_counter)}"),
        source=source,
        account=account.platform_id,
        story=story.platform_id if story else None,
        reporter=reporter.platform_id,
        policy=Policy.objects.current().get(code=code) if code else None,
        reason=fields.pop("reason", "Looks generated and it is paywalled."),
        **fields,
    )


def send(client, item, **kwargs):
    return ingest_signal(client=client, item=item, **kwargs)
