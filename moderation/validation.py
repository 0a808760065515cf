"""Input checks shared by the API and the forms: malformed values become 400s with a
field message before any query or database write sees them.

PostgreSQL refuses NUL in text and JSON, lone surrogates cannot be encoded, UTC
offsets beyond ±15:59 are out of its range, and a deeply nested JSON body makes
Python's parser recurse until it fails: each is a 500 unless caught here.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Iterator

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _
from rest_framework import renderers, serializers
from rest_framework.exceptions import ParseError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser

# Free text may carry line breaks and tabs; identifiers carry no control character.
TEXT_WHITESPACE = frozenset("\t\n\r")


def bad_character(value: str, *, allow_whitespace: bool = True) -> str | None:
    """The first character a stored string may not hold (control, surrogate), or None."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc" and not (allow_whitespace and char in TEXT_WHITESPACE):
            return char
        if category == "Cs":
            return char
    return None


def character_message(char: str) -> str:
    return _("Control characters and lone surrogates are not allowed (found U+%(code)s).") % {
        "code": f"{ord(char):04X}"
    }


def is_clean_identifier(value) -> bool:
    """No control character or lone surrogate: a printable string (checked in C) holds
    neither; others are looked at character by character."""
    return isinstance(value, str) and (value.isprintable() or bad_character(value, allow_whitespace=False) is None)


def _walk_strings(value) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def json_depth(value) -> int:
    """Nesting depth of a parsed JSON value, without recursion: level by level, only
    the containers are visited (a 1,000-signal body has 20,000 scalars to skip)."""
    depth = 0
    level = [value] if isinstance(value, _CONTAINERS) else []
    while level:
        depth += 1
        below = []
        for item in level:
            below += [
                child for child in (item.values() if isinstance(item, dict) else item) if isinstance(child, _CONTAINERS)
            ]
        level = below
    return depth


_CONTAINERS = (dict, list)  # a tuple: isinstance against `dict | list` took twice as long


def json_string_error(value) -> str | None:
    """A message for the first string (key or value) inside JSON that PostgreSQL would refuse."""
    for text in _walk_strings(value):
        char = bad_character(text)
        if char is not None:
            return character_message(char)
    return None


def utc_datetime(value: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC (naive ones are returned as they are). Every RFC 3339
    offset (up to ±23:59) is accepted; a bound beyond the calendar's ends is clamped
    to them, which compares the same."""
    offset = value.utcoffset()
    if offset is None:
        return value
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        return dt.datetime.min.replace(tzinfo=dt.UTC) if value.year == 1 else dt.datetime.max.replace(tzinfo=dt.UTC)


# A run of 20 digits may be an integer past 64 bits, which orjson reads as a float. Found
# by mapping every digit to "0" and every other byte to a space, then looking for twenty
# "0"s: two C passes over the body, where the regular expression \d{20} took ten times
# as long (6 ms of a 1,000-signal body, ids and scores being full of digits).
_DIGITS_AS_ZEROS = bytes(ord("0") if ord("0") <= byte <= ord("9") else ord(" ") for byte in range(256))
_LONG_NUMBER = b"0" * 20


def _has_long_number(raw: bytes) -> bool:
    return _LONG_NUMBER in raw.translate(_DIGITS_AS_ZEROS)


class LimitedJSONParser(JSONParser):
    """DRF's strict JSON parser with a byte and a nesting limit (API_JSON_MAX_BYTES,
    API_JSON_MAX_DEPTH): a hostile body is a 400, never a RecursionError.

    orjson (C, RFC 8259 strict) parses a 1,000-signal batch several times faster than
    the standard library; any body it refuses or might read differently (not UTF-8, a
    lone surrogate escape, an integer past 64 bits) goes to the standard library
    parser, so what a client gets back, data or error message, is unchanged."""

    def parse(self, stream, media_type=None, parser_context=None):
        limits = settings.MODERATION
        max_bytes = limits["API_JSON_MAX_BYTES"]
        raw = stream.read(max_bytes + 1) if stream is not None else b""
        if len(raw) > max_bytes:
            raise ParseError(f"JSON body larger than {max_bytes} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        data = _fast_loads(raw, encoding)
        if data is _REFUSED:
            try:
                data = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
            except RecursionError as exc:
                raise ParseError("JSON nested too deeply.") from exc
            except ValueError as exc:
                raise ParseError(f"JSON parse error - {exc}") from exc
        if json_depth(data) > limits["API_JSON_MAX_DEPTH"]:
            raise ParseError(f"JSON nested deeper than {limits['API_JSON_MAX_DEPTH']} levels.")
        return data


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON.")


_REFUSED = object()


def _fast_loads(raw: bytes, encoding: str):
    """orjson's reading of the body, or _REFUSED where the standard library decides."""
    if encoding.lower().replace("-", "") != "utf8" or _has_long_number(raw):
        return _REFUSED
    try:
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, RecursionError):
        return _REFUSED


class FastJSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer, encoded by orjson where the result is the same bytes: compact,
    UTF-8, no indent asked for, the body made only of what orjson writes as the standard
    library does (strings, integers, booleans, None, lists, dicts); anything else (times,
    floats, lazy text) goes through DRF's encoder as before."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None or self.get_indent(accepted_media_type or "", renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        if not (self.compact and not self.ensure_ascii and _plain(data)):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data)
        except orjson.JSONEncodeError:  # an integer past 64 bits, a lone surrogate
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF does: the two line separators JavaScript reads as line ends, escaped.
        return body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")


_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


def _plain(value) -> bool:
    """Only str, int, bool, None, list and dict inside (exact types: a subclass such as
    DRF's ErrorDetail or a lazy string is left to DRF's encoder)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            if not all(type(key) is str for key in item):
                return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind not in _PLAIN_SCALARS:
            return False
    return True


class SafeCharField(serializers.CharField):
    """A CharField that refuses control characters (identifiers: all of them; free
    text: all but tab and line breaks) and lone surrogates, as a field error."""

    default_error_messages = {"bad_character": _("{message}")}

    def __init__(self, *, multiline: bool = False, **kwargs):
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        char = bad_character(value, allow_whitespace=self.multiline)
        if char is not None:
            self.fail("bad_character", message=character_message(char))
        return value


class SafeRegexField(serializers.RegexField, SafeCharField):
    pass


class SafeEmailField(serializers.EmailField, SafeCharField):
    pass


class SafeURLField(serializers.URLField, SafeCharField):
    pass


class StrictPageNumberPagination(PageNumberPagination):
    """`page` is a positive integer, as the schema says: anything else is a 400 (a
    page past the end stays a 404), never silently read as page 1 or `last`."""

    last_page_strings = ()
    max_page = 10**6

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page:
            raise serializers.ValidationError({self.page_query_param: [f"A whole number from 1 to {self.max_page}."]})
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page}
        return parameters


@deconstructible
class NoControlCharacters:
    """Django validator: refuses control characters (tab and line breaks allowed in
    free text) and lone surrogates."""

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value):
        char = bad_character(str(value), allow_whitespace=self.multiline)
        if char is not None:
            raise ValidationError(character_message(char), code="bad_character")

    def __eq__(self, other):
        return isinstance(other, NoControlCharacters) and other.multiline == self.multiline
