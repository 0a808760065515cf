"""Schemathesis fuzzes every operation in /api/schema/ with every check: the API
answers only what its schema documents and refuses what the schema does not allow.

Runs the schemathesis CLI (as in CI, `st run --checks all`) against the live test
server, once as an API client allowed every source and once as staff. A fixed seed
keeps runs reproducible; operations are discovered from the schema, so new
endpoints are fuzzed without touching this test.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from moderation.models import SignalSource
from tests.cases.intake_helpers import detector_signal, make_client, send
from tests.factories import StoryFactory

pytestmark = pytest.mark.django_db(transaction=True)
SEED = "20261127"
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
ST = Path(sys.executable).with_name("st")


def run_schemathesis(live_server, tmp_path, *options: str, max_examples=MAX_EXAMPLES) -> subprocess.CompletedProcess:
    command = [
        str(ST),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        "all",
        "--seed",
        SEED,
        "--max-examples",
        str(max_examples),
        "--workers",
        "1",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    return subprocess.run([*command, *options], capture_output=True, text=True, timeout=600, cwd=tmp_path)


@pytest.fixture
def unthrottled(monkeypatch):
    """Throttles stay on (their 429s are part of the contract) but out of the fuzzer's way."""
    rates = dict.fromkeys(SimpleRateThrottle.THROTTLE_RATES, "1000000/min")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.fixture
def fuzz_world():
    client, key = make_client("fuzzer", list(SignalSource))
    for _ in range(3):
        story = StoryFactory(is_paywalled=True)
        send(client, detector_signal(story.author, story))
    return key


def test_schemathesis_finds_nothing_as_an_api_client(live_server, tmp_path, unthrottled, fuzz_world):
    result = run_schemathesis(live_server, tmp_path, "-H", f"Authorization: Api-Key {fuzz_world}")
    assert result.returncode == 0, result.stdout[-12000:]
    assert "3 selected" in result.stdout or "Operations:" in result.stdout


def test_schemathesis_finds_nothing_as_staff(live_server, tmp_path, unthrottled, fuzz_world, client):
    from tests.factories import moderator

    client.force_login(moderator())
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    # The session cookie rides on every request, so schemathesis cannot strip it to test
    # ignored credentials: that check runs in the API-client run above.
    result = run_schemathesis(
        live_server,
        tmp_path,
        "-H",
        f"Cookie: {settings.SESSION_COOKIE_NAME}={cookie}",
        "--exclude-checks",
        "ignored_auth",
        max_examples=max(5, MAX_EXAMPLES // 3),
    )
    assert result.returncode == 0, result.stdout[-12000:]
