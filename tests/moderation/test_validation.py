"""The API's JSON reading and writing (moderation.validation): orjson where it gives what
the standard library gives, the standard library wherever it might not."""

import io
import json

import pytest
from rest_framework.exceptions import ParseError
from rest_framework.renderers import JSONRenderer

from moderation.validation import FastJSONRenderer, LimitedJSONParser, json_depth


def parse(body: bytes, encoding: str = "utf-8"):
    return LimitedJSONParser().parse(io.BytesIO(body), parser_context={"encoding": encoding})


@pytest.mark.parametrize(
    "body",
    [
        '[{"n": 1, "x": 0.1, "s": "caf\\u00e9 \\u2028", "t": true, "z": null, "l": [1, [2, {}]]}]',
        '{"n": 123456789012345678901234567890}',  # past 64 bits: an int, not a float
        '{"n": 18446744073709551616, "m": -9223372036854775809}',
        '{"x": "\\ud800"}',  # a lone surrogate: data here, a field error later
        '{"a": 1, "a": 2}',
        "[" * 30 + "]" * 30,
    ],
)
def test_the_parser_reads_what_the_standard_library_reads(body):
    assert parse(body.encode()) == json.loads(body)


def test_integers_past_64_bits_keep_every_digit():
    value = parse(b'{"n": 123456789012345678901234567890}')["n"]
    assert type(value) is int and value == 123456789012345678901234567890


@pytest.mark.parametrize(
    ("body", "message"), [(b"[1,", "JSON parse error"), (b"NaN", "not valid JSON"), (b"\xff", "JSON parse error")]
)
def test_the_parser_refuses_what_the_standard_library_refuses_with_its_message(body, message):
    with pytest.raises(ParseError, match=message):
        parse(body)


def test_a_body_in_another_declared_charset_is_read_in_it():
    assert parse('{"s": "é"}'.encode("latin-1"), encoding="latin-1") == {"s": "é"}


def test_json_depth_counts_containers_only():
    assert [json_depth(v) for v in (1, "x", [], {"a": [1, {"b": []}]}, [[[[]]]])] == [0, 0, 1, 4, 4]


@pytest.mark.parametrize(
    "data",
    [
        {"stored": 2, "results": [{"index": 0, "status": "stored", "id": 7, "case": None, "warnings": {"a": "b"}}]},
        {"s": 'line\u2028sep\u2029 é \x01 "q" \\'},
        {"big": 2**70},
        {"f": 0.1, "when": "2026-11-27"},
        [],
    ],
)
def test_the_renderer_writes_the_bytes_drf_writes(data):
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_the_renderer_leaves_drf_types_and_indents_to_drf():
    from datetime import UTC, datetime

    from rest_framework.exceptions import ErrorDetail

    for data in ({"when": datetime(2026, 11, 27, 20, 0, 0, 123456, tzinfo=UTC)}, {"e": [ErrorDetail("bad", "x")]}):
        assert FastJSONRenderer().render(data) == JSONRenderer().render(data)
    context = {"indent": 2}
    assert FastJSONRenderer().render({"a": 1}, renderer_context=context) == JSONRenderer().render(
        {"a": 1}, renderer_context=context
    )
