"""The magic-link start page does the same work for known and unknown writers: the
request only queues a job, which signs and renders either way and sends only on a match."""

import pytest
from django.core import mail

from appeals import jobs, services
from appeals.tokens import read_magic_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(services, "enqueue", lambda func, *args, **kw: calls.append((func, args, kw)))
    return calls


def test_the_request_queues_the_same_job_and_runs_no_query_whoever_asks(
    client, writer, queued, django_assert_num_queries
):
    with django_assert_num_queries(0):
        services.request_magic_link(handle="@ada", email="ada@example.com")
        services.request_magic_link(handle="nobody", email="ada@example.com")
        services.request_magic_link(handle="ada", email="wrong@example.com")
    assert [(func, kw) for func, _, kw in queued] == [(jobs.send_magic_link_if_known, {"queue": "email"})] * 3
    assert [args for _, args, _ in queued] == [
        ("ada", "ada@example.com"),
        ("nobody", "ada@example.com"),
        ("ada", "wrong@example.com"),
    ]


def test_the_job_signs_and_renders_for_everyone_and_sends_only_on_a_match(writer, monkeypatch):
    signed, rendered = [], []
    real_token, real_message = services.make_magic_token, services.magic_link_message
    monkeypatch.setattr(services, "make_magic_token", lambda a: signed.append(a.handle) or real_token(a))
    monkeypatch.setattr(
        services, "magic_link_message", lambda **kw: rendered.append(kw["handle"]) or real_message(**kw)
    )

    assert services.deliver_magic_link(handle="nobody", email="x@example.com") is False
    assert services.deliver_magic_link(handle="ADA", email="Ada@Example.com") is True
    assert signed == rendered == ["nobody", "ada"]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    token = next(line for line in mail.outbox[0].body.splitlines() if "/appeal/start/" in line).rsplit("/", 2)[-2]
    assert read_magic_token(token) == writer
