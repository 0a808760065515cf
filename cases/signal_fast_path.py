"""The fast lane of signal validation (issue 16): DRF's nested serializers cost about
a millisecond per item, most of a 1,000-signal batch's Python time.

`fast_validate` accepts only items in the plain shapes detectors and the reader app
send (exact types, no surrounding whitespace, known choices) and returns the same
validated data SignalSerializer would, running the serializer's own cross-field
checks. Anything else, and every invalid item, sends the whole batch through the
serializer, so a 400 and its per-item field messages come from DRF exactly as before.
The lane only ever answers "valid, and here is the same data" or "ask DRF".
"""

from __future__ import annotations

import json
import math

import orjson
from django.conf import settings
from rest_framework import serializers

from moderation.models import AIDisclosure, Distribution, Outcome, PartnerStatus, SignalSource, StoryKind
from moderation.validation import bad_character, json_string_error

SOURCES = frozenset(SignalSource.values)
OUTCOMES = frozenset(Outcome.values)
PARTNER_STATUSES = frozenset(PartnerStatus.values)
KINDS = frozenset(StoryKind.values)
DISTRIBUTIONS = frozenset(Distribution.values)
AI_DISCLOSURES = frozenset(AIDisclosure.values)
HANDLE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
INT_MAX = 2**31 - 1


class NotPlain(Exception):
    """This item needs the serializer (it may be valid, but not in a plain shape)."""


def fast_validate(data, *, child, many: bool) -> list[dict] | None:
    """Validated items, or None when the serializer must decide. `child` is a
    SignalSerializer bound to the request's context (its checks are reused)."""
    items = data if many else [data]
    if many and not (0 < len(items) <= settings.MODERATION["SIGNAL_BATCH_LIMIT"]):
        return None
    try:
        return [_item(item, child) for item in items]
    except (NotPlain, serializers.ValidationError):
        return None


def _identifier(value, max_length: int, *, blank: bool = False) -> str:
    if type(value) is not str or len(value) > max_length or (not value and not blank):
        raise NotPlain
    if value != value.strip() or not _clean(value, allow_whitespace=False):
        raise NotPlain
    return value


def _text(value, max_length: int, *, trim: bool = True) -> str:
    if type(value) is not str or len(value) > max_length:
        raise NotPlain
    if (trim and value != value.strip()) or not _clean(value, allow_whitespace=True):
        raise NotPlain
    return value


def _clean(value: str, *, allow_whitespace: bool) -> bool:
    """No control character or lone surrogate (a printable string holds neither)."""
    return value.isprintable() or bad_character(value, allow_whitespace=allow_whitespace) is None


def _choice(value, choices: frozenset) -> str:
    if type(value) is not str or value not in choices:
        raise NotPlain
    return value


def _optional_identifier(item: dict, key: str, out: dict) -> None:
    if key in item:
        value = item[key]
        out[key] = None if value is None else _identifier(value, 64)


def _item(item, child) -> dict:
    if type(item) is not dict:
        raise NotPlain
    ctx = child.context
    out = {
        "idempotency_key": _identifier(item.get("idempotency_key"), 128),
        "source": _choice(item.get("source"), SOURCES),
        "account": _identifier(item.get("account"), 64),
    }
    if not ctx["client"].may_send(out["source"]):
        raise NotPlain
    _optional_identifier(item, "story", out)
    _optional_identifier(item, "reporter", out)
    out["reason"] = _text(item.get("reason", ""), settings.MODERATION["REASON_MAX_CHARS"])
    if "account_data" in item:
        out["account_data"] = _account_data(item["account_data"])
    if "story_data" in item:
        out["story_data"] = _story_data(item["story_data"])
    if "policy" in item:
        out["policy"] = _policy(item["policy"], ctx)
    if "detector" in item:
        out["detector"] = _detector(item["detector"])
    if "score" in item:
        out["score"] = _score(item["score"])
    out["proposed_outcomes"] = _outcomes(item.get("proposed_outcomes", []))
    out["payload"] = _payload(item.get("payload", {}))
    if item.get("observed_at") is not None:
        raise NotPlain
    if "observed_at" in item:
        out["observed_at"] = None
    return child.validate(out)


def _account_data(value) -> dict | None:
    if value is None:
        return None
    if type(value) is not dict or not set(value) <= {"handle", "display_name", "partner_status", "follower_count"}:
        raise NotPlain
    out = {}
    if "handle" in value:
        handle = _identifier(value["handle"], 64)
        if not set(handle) <= HANDLE_CHARS:
            raise NotPlain
        out["handle"] = handle
    if "display_name" in value:
        out["display_name"] = _identifier(value["display_name"], 128, blank=True)
    if "partner_status" in value:
        out["partner_status"] = _choice(value["partner_status"], PARTNER_STATUSES)
    if "follower_count" in value:
        count = value["follower_count"]
        if type(count) is not int or not 0 <= count <= INT_MAX:
            raise NotPlain
        out["follower_count"] = count
    return out


def _story_data(value) -> dict | None:
    if value is None:
        return None
    allowed = {"kind", "title", "body", "paywalled", "distribution", "ai_disclosure"}
    if type(value) is not dict or not set(value) <= allowed:
        raise NotPlain
    out = {}
    if "kind" in value:
        out["kind"] = _choice(value["kind"], KINDS)
    if "title" in value:
        out["title"] = _identifier(value["title"], 300, blank=True)
    if "body" in value:
        out["body"] = _text(value["body"], 200_000, trim=False)
    if "paywalled" in value:
        if type(value["paywalled"]) is not bool:
            raise NotPlain
        out["is_paywalled"] = value["paywalled"]
    if "distribution" in value:
        out["distribution"] = _choice(value["distribution"], DISTRIBUTIONS)
    if "ai_disclosure" in value:
        out["ai_disclosure"] = _choice(value["ai_disclosure"], AI_DISCLOSURES)
    if out.get("kind") == StoryKind.RESPONSE and out.get("is_paywalled"):
        raise NotPlain
    return out


def _policy(value, ctx):
    if value is None:
        return None
    found = ctx["policies"].get(_identifier(value, 64))
    if found is None:
        raise NotPlain
    return found


def _detector(value) -> dict | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise NotPlain
    return {"name": _identifier(value.get("name"), 100), "version": _identifier(value.get("version"), 50)}


def _score(value) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or not 0 <= value <= 1:
        raise NotPlain
    return float(value)


def _outcomes(value) -> list[str]:
    if type(value) is not list or len(value) > len(OUTCOMES):
        raise NotPlain
    return [_choice(outcome, OUTCOMES) for outcome in value]


def _payload(value) -> dict:
    if type(value) is not dict or json_string_error(value):
        raise NotPlain
    limit = settings.MODERATION["SIGNAL_PAYLOAD_MAX_BYTES"]
    if _within_a_third(value, limit):
        return value
    if len(json.dumps(value, separators=(",", ":")).encode()) > limit:
        raise NotPlain
    return value


def _within_a_third(value: dict, limit: int) -> bool:
    """Whether the serializer's measure (json.dumps, non-ASCII escaped) surely fits:
    orjson writes the same value in at least a third of those bytes (a character of 2 to
    4 UTF-8 bytes becomes a 6- or 12-byte escape; "1e16" is "1e+16"), twenty times
    faster. A larger payload is measured as the serializer measures it."""
    try:
        return 3 * len(orjson.dumps(value)) <= limit
    except orjson.JSONEncodeError:  # an integer past 64 bits
        return False
