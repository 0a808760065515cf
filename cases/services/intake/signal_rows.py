"""A chunk's new signals as plain rows, not model instances (issue 16).

Building a `Signal` and running `full_clean` on it cost more Python per signal than
the rest of the chunk: model __init__ walks every field and related descriptor, and
full_clean every field's clean(). A chunk only needs the values, which travel to
PostgreSQL in one JSON document (setwise.insert_values). `check` stands in for
full_clean on every caller's signals (the API's, the demos', the benchmarks'): the
same field rules as the model, checked directly; when one fails, the model's own
full_clean runs to raise Django's ValidationError with its usual messages.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder

from cases.models import Signal
from moderation.models import SignalSource

SOURCES = frozenset(SignalSource.values)
SOURCE_LABELS = dict(SignalSource.choices)
FK_FIELDS = ("client", "account", "story", "reporter", "policy", "case")
_FIELD = {f.name: f for f in Signal._meta.concrete_fields}
KEY_MAX = _FIELD["idempotency_key"].max_length
SOURCE_MAX = _FIELD["source"].max_length
DETECTOR_NAME_MAX = _FIELD["detector_name"].max_length
DETECTOR_VERSION_MAX = _FIELD["detector_version"].max_length
_PLAIN = frozenset({str, int, float, bool, type(None)})
CLEANED = ("idempotency_key", "source", "reason", "detector_name", "detector_version", "score", "observed_at")


class SignalRow:
    """One new signal of a chunk, with the attributes the chunk, its evidence, audit
    and proposals read off a Signal (pk once inserted)."""

    __slots__ = (
        "pk",
        "client_id",
        "idempotency_key",
        "source",
        "account",
        "story",
        "reporter",
        "reason",
        "policy",
        "detector_name",
        "detector_version",
        "score",
        "proposed_outcomes",
        "payload",
        "observed_at",
        "set_aside",
        "case",
    )

    def __init__(self, **values):
        self.pk = None
        self.case = None
        for name, value in values.items():
            setattr(self, name, value)

    @property
    def account_id(self):
        return self.account.pk

    @property
    def story_id(self):
        return self.story.pk if self.story is not None else None

    @property
    def reporter_id(self):
        return self.reporter.pk if self.reporter is not None else None

    @property
    def policy_id(self):
        return self.policy.pk if self.policy is not None else None

    @property
    def case_id(self):
        return self.case.pk if self.case is not None else None

    def get_source_display(self) -> str:
        return str(SOURCE_LABELS.get(self.source, self.source))

    def values(self) -> dict:
        """Column values by attname, for one row of the INSERT (received_at is set there)."""
        return {
            "client_id": self.client_id,
            "submitted_by_id": None,
            "idempotency_key": self.idempotency_key,
            "source": self.source,
            "account_id": self.account.pk,
            "story_id": self.story_id,
            "reporter_id": self.reporter_id,
            "reason": self.reason,
            "policy_id": self.policy_id,
            "detector_name": self.detector_name,
            "detector_version": self.detector_version,
            "score": self.score,
            "proposed_outcomes": self.proposed_outcomes,
            "payload": self.payload,
            "observed_at": self.observed_at,
            "case_id": self.case_id,
            "set_aside": self.set_aside,
        }

    def model(self) -> Signal:
        """The same signal as a model instance (SQLite's bulk_create, error messages)."""
        names = [n for n in self.__slots__ if n not in ("pk", "client_id")]
        signal = Signal(client_id=self.client_id, **{n: getattr(self, n) for n in names})
        signal.pk = self.pk
        return signal


def check(row: SignalRow) -> None:
    """What Signal.full_clean checks (related rows and constraints aside: the chunk just
    loaded the related rows, and CHECK constraints back the rest), for any caller."""
    if _fits(row):
        return
    signal = row.model()
    signal.full_clean(exclude=[*FK_FIELDS, "submitted_by"], validate_unique=False, validate_constraints=False)
    for name in CLEANED:  # full_clean keeps what each field's to_python made of the value
        setattr(row, name, getattr(signal, name))


def _fits(row: SignalRow) -> bool:
    key, score = row.idempotency_key, row.score
    return (
        type(key) is str
        and 0 < len(key) <= KEY_MAX
        and row.source in SOURCES
        and len(row.source) <= SOURCE_MAX
        and type(row.reason) is str
        and type(row.detector_name) is str
        and len(row.detector_name) <= DETECTOR_NAME_MAX
        and type(row.detector_version) is str
        and len(row.detector_version) <= DETECTOR_VERSION_MAX
        and (score is None or (type(score) in (float, int) and math.isfinite(score)))
        and isinstance(row.observed_at, datetime)
        and type(row.set_aside) is bool
        and _json(row.proposed_outcomes)
        and _json(row.payload)
    )


def _json(value) -> bool:
    """Serialisable as the JSONField would store it (full_clean's check); a flat object
    or list of plain values (what detectors send) is, without encoding it."""
    if type(value) is dict and all(type(k) is str and type(v) in _PLAIN for k, v in value.items()):
        return True
    if type(value) is list and all(type(v) in _PLAIN for v in value):
        return True
    try:
        json.dumps(value, cls=DjangoJSONEncoder)
    except (TypeError, ValueError):
        return False
    return True
