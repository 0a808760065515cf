"""The published schema is the contract schemathesis holds the API to: every
operation lists its error answers, and the signals endpoint takes JSON only."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_every_operation_documents_its_error_answers(schema):
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert operations
    for path, method, operation in operations:
        codes = set(operation["responses"])
        assert {"400", "401", "403", "429"} <= codes, (method, path, codes)
        if "{" in path or method == "get":
            assert "404" in codes, (method, path)
        for code in ("400", "401", "403", "429"):
            assert list(operation["responses"][code]["content"]) == ["application/json"], (method, path, code)


def test_signals_take_json_only_and_strings_refuse_control_characters(schema):
    post = schema["paths"]["/api/v1/signals/"]["post"]
    assert list(post["requestBody"]["content"]) == ["application/json"]
    assert "415" in post["responses"]
    signal = schema["components"]["schemas"]["Signal"]["properties"]
    assert "\\u0000-\\u001f" in signal["account"]["pattern"]


def test_page_and_booleans_are_typed_in_the_schema(schema):
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/cases/"]["get"]["parameters"]}
    assert parameters["page"] == {"type": "integer", "minimum": 1, "maximum": 10**6}
    assert parameters["sla_breached"]["type"] == "boolean"
