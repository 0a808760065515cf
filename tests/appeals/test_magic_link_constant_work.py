"""The magic-link start page does the same work for known and unknown writers: the
request only queues a job, which signs and renders either way and sends only on a match."""

import pytest
from django.core import mail

from appeals import jobs, services
from appeals.models import MagicLinkRequest
from appeals.tokens import read_magic_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(services, "enqueue", lambda func, *args, **kw: calls.append((func, args, kw)))
    return calls


def test_the_request_queues_the_same_job_and_reads_nothing_whoever_asks(client, writer, queued):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ran:
        services.request_magic_link(handle="@ada", email="ada@example.com")
        services.request_magic_link(handle="nobody", email="ada@example.com")
        services.request_magic_link(handle="ada", email="wrong@example.com")
    # The same statements for everyone: what was typed is written, nothing is looked up.
    statements = [query["sql"].split(" ", 1)[0] for query in ran.captured_queries]
    assert "SELECT" not in statements and statements.count("INSERT") == 3
    assert statements[: len(statements) // 3] * 3 == statements
    assert [(func, kw) for func, _, kw in queued] == [(jobs.send_magic_link_request, {"queue": "email"})] * 3
    # The job carries the request's id, never what was typed.
    typed = MagicLinkRequest.objects.order_by("pk")
    assert [args for _, args, _ in queued] == [(pk,) for pk in typed.values_list("pk", flat=True)]
    assert list(typed.values_list("handle", "email")) == [
        ("ada", "ada@example.com"),
        ("nobody", "ada@example.com"),
        ("ada", "wrong@example.com"),
    ]


def test_the_job_reads_the_request_then_forgets_it(writer, queued):
    services.request_magic_link(handle="@ada", email="ada@example.com")
    services.request_magic_link(handle="nobody", email="ada@example.com")
    for func, args, _ in queued:
        func(*args)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    assert not MagicLinkRequest.objects.exists()
    for func, args, _ in queued:  # run twice: nothing is sent again
        func(*args)
    assert len(mail.outbox) == 1


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
