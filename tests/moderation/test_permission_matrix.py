"""The permission matrix (moderation/permission_matrix.py), proven cell by cell: every
URL against every principal, GET and POST, the refused cells too. POSTs carry a valid
CSRF token through a CSRF-enforcing client, so a refusal is the permission's.

Allowed means the request got past the permission: not 401/403/405, not a redirect to
the login (and for writer pages not 404, their refusal of a forged token). Refused
means exactly one of those. A URL pattern the matrix does not list fails the suite."""

from __future__ import annotations

from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rq import Worker

from appeals.models import Appeal, AppealFile, AppealKind, FollowerRestoration
from appeals.tokens import make_magic_token
from cases.models import (
    CannedRationale,
    Evidence,
    Notice,
    OutboxEntry,
    OutboxOperation,
    ReporterStanding,
    RoutingRule,
)
from cases.notices import make_appeal_token
from cases.services.intake import create_api_client
from cases.strikes import Strike
from moderation import permission_matrix as pm
from moderation.models import ApiClient, AuditEvent, BackgroundJob, EarningsHold, Policy
from supervision.models import AuditChainCheck, DetectorRecall, RecallMode
from tests.factories import (
    AccountFactory,
    CaseFactory,
    DecisionFactory,
    EnforcementActionFactory,
    FollowFactory,
    QueueFactory,
    SignalFactory,
    StoryFactory,
    UserFactory,
    moderator,
    staff,
)
from tests.oidc_provider import configure
from tests.rq_support import fake_redis, queue_index  # noqa: F401  (fixture)
from tests.supervision.factories import GoldenCaseFactory, QASampleFactory, QASamplingRuleFactory

pytestmark = pytest.mark.django_db

FORGED = "forged-token"
CSRF_SECRET = "a" * 32


def walk(patterns=None, prefix="", namespace=""):
    """Every URL pattern of the project as (full route, (pattern, namespaced name))."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else None
            yield prefix + str(pattern.pattern), (pattern, name)


def test_every_url_of_the_project_is_in_the_matrix():
    listed = pm.rows_by_route()
    missing = sorted({route for route, _ in walk()} - set(listed))
    assert not missing, "URL patterns not in moderation/permission_matrix.py:\n" + "\n".join(missing)
    stale = sorted(set(listed) - {route for route, _ in walk()})
    assert not stale, "matrix rows without a URL pattern:\n" + "\n".join(stale)


def test_the_readme_prints_the_matrix_as_it_is():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    assert pm.as_markdown() in readme, "run `python manage.py permission_matrix --readme` and commit README.md"


# The world every cell is asked against --------------------------------------------------


@pytest.fixture(autouse=True)
def _oidc_configured(settings):
    """The OIDC URLs as they answer when configured; the provider is never reached
    (tests/moderation/test_oidc_sign_in.py signs in against a running one)."""
    configure(settings, "http://127.0.0.1:9", discovery=False)


@pytest.fixture
def world(fake_redis):  # noqa: F811
    queue = QueueFactory(slug="matrix", allowed_roles=["moderator", "senior_moderator"])
    story = StoryFactory(is_paywalled=True)
    case = CaseFactory(queue=queue, account=story.author, story=story)
    waiting = DecisionFactory(case__queue=queue, outcomes=["account.suspend"], decided_by=moderator())
    action = EnforcementActionFactory(
        decision__case__queue=queue, outcome="paywall.remove", status="applied", applied_at=timezone.now()
    )
    notice = Notice.objects.create(
        case=action.case,
        decision=action.decision,
        recipient_kind=Notice.Recipient.WRITER,
        account=action.account,
        email=action.account.email,
        subject="Decision",
        body="b",
        appeal_deadline=timezone.now() + timezone.timedelta(days=30),
        sent_at=timezone.now(),
    )
    appeal = Appeal.objects.create(
        account=action.account,
        kind=AppealKind.ACTION,
        action=action,
        writer_statement="I wrote it myself, really.",
        contact_email="w@example.com",
        tracking_token="tracking-token-matrix",
        submitted_at=timezone.now(),
    )
    signal = SignalFactory(detector=True, account=case.account, story=story, case=case)
    sample = QASampleFactory()
    recall = DetectorRecall.objects.create(
        detector_name="ai-text-classifier",
        detector_version="2.3.0",
        mode=RecallMode.REQUEUE,
        reason="r",
        requested_by=UserFactory(),
        status="finished",
        created_at=timezone.now(),
    )
    client = ApiClient.objects.first() or create_api_client(name="matrix-bot", allowed_sources=["detector"])[0]
    rq_queue = django_rq.get_queue("default", commit_mode="auto")
    job = rq_queue.enqueue("cases.jobs.drain_outbox_job")
    worker = Worker([rq_queue], connection=rq_queue.connection, name="matrix-worker")
    worker.register_birth()
    objects = {
        "queue": queue,
        "case": case,
        "decision": waiting,
        "action": action,
        "notice": notice,
        "strike": Strike.objects.create(
            account=action.account,
            case=action.case,
            decision=action.decision,
            policy=action.decision.policy or Policy.objects.current().first(),
            family="spam",
            severity=2,
            issued_at=timezone.now(),
            expires_at=timezone.now() + timezone.timedelta(days=90),
        ),
        "appeal": appeal,
        "signal": signal,
        "qa_sample": sample,
        "recall": recall,
        "api_client": client,
        "api_key": client.keys.first(),
        "account": case.account,
        "story": story,
        "follow": FollowFactory(),
        "hold": EarningsHold.objects.create(
            account=case.account,
            starts_at=timezone.now(),
            ends_at=timezone.now() + timezone.timedelta(days=3),
            placed_by="action-matrix",
        ),
        "policy": Policy.objects.current().first(),
        "audit_event": AuditEvent.objects.first(),
        "group": Group.objects.get(name="moderator"),
        "user": moderator(),
        "evidence": Evidence.objects.filter(case=case).first() or _note(case),
        "outbox": OutboxEntry.objects.get_or_create(action=action, operation=OutboxOperation.APPLY)[0],
        "routing_rule": RoutingRule.objects.first(),
        "canned_rationale": CannedRationale.objects.first(),
        "standing": ReporterStanding.objects.create(reporter=AccountFactory()),
        "qa_rule": QASamplingRuleFactory(),
        "golden": GoldenCaseFactory(),
        "appeal_file": AppealFile.objects.create(
            appeal=appeal,
            file=ContentFile(b"%PDF-1.4 matrix", name="proof.pdf"),
            original_name="proof.pdf",
            content_type="application/pdf",
            size=15,
        ),
        "case_type": ContentType.objects.get_for_model(type(case)),
        "evidence_file": Evidence.objects.create(
            case=case,
            kind="file",
            title="screenshot",
            file=ContentFile(b"%PDF-1.4 matrix", name="evidence.pdf"),
            data={"name": "evidence.pdf", "content_type": "application/pdf"},
        ),
        "restoration": FollowerRestoration.objects.create(
            appeal=appeal,
            purge_action=action,
            follower=AccountFactory(),
            followee=action.account,
            created_at=timezone.now(),
        ),
        "background_job": BackgroundJob.objects.create(
            func="cases.jobs.send_notice_job", args=[0], queue="email", next_attempt_at=timezone.now()
        ),
        "chain_check": AuditChainCheck.objects.create(
            checked_by=UserFactory(), checked_at=timezone.now(), events_checked=0
        ),
    }
    values = {
        "pk": None,
        "object_id": None,
        "slug": queue.slug,
        "name": "ai-text-classifier",
        "version": "2.3.0",
        "queue_index": queue_index("default"),
        "job_id": job.id,
        "result_id": "0-0",
        "key": worker.key,
        "scheduler_index": 0,
        "connection_index": 0,
        "scheduler_name": "matrix",
        "cron_job_name": "matrix-job",
        "token": "x",
        "app_label": "cases",
        "url": "nowhere/",
    }
    tokens = {
        "appeal/start/<str:token>/": make_magic_token(action.account),
        "appeal/notice/<str:token>/": make_appeal_token(notice),
        "appeal/status/<str:token>/": appeal.tracking_token,
    }
    return {"objects": objects, "values": values, "tokens": tokens, "worker": worker, "clients": {}}


def _note(case):
    from cases.services.intake import add_staff_note

    return add_staff_note(actor=moderator(), case=case, text="a note")


def principal_client(principal: str, world) -> tuple[Client, dict]:
    """One client per principal and world, signed in once (again after a logout)."""
    cached = world["clients"].get(principal)
    if cached is not None and (principal in ANONYMOUS or "_auth_user_id" in cached[0].session):
        return cached
    client = Client(enforce_csrf_checks=True)
    headers = {}
    if principal in (pm.SIGNALS, pm.PLATFORM):
        name = "matrix-signals" if principal == pm.SIGNALS else "matrix-platform"
        sources = ["detector"] if principal == pm.SIGNALS else ["reader_report", "show_less"]
        api_client, key = create_api_client(name=name, allowed_sources=sources)
        ApiClient.objects.filter(pk=api_client.pk).update(scopes=["signals" if principal == pm.SIGNALS else "platform"])
        headers["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
    elif principal == pm.SUPERUSER:
        client.force_login(UserFactory(username="matrix-root", is_superuser=True))
    elif principal not in (pm.ANON, pm.WRITER):
        client.force_login(staff(principal, username=f"matrix-{principal}"))
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
    headers["HTTP_X_CSRFTOKEN"] = CSRF_SECRET
    world["clients"][principal] = (client, headers)
    return client, headers


ANONYMOUS = (pm.ANON, pm.WRITER, pm.SIGNALS, pm.PLATFORM)


def url_for(row: pm.Row, target, principal: str, world) -> str:
    pattern, name = target
    kwargs = {}
    for arg in pattern.pattern.regex.groupindex:
        if row.token and arg == "token":
            kwargs[arg] = world["tokens"][row.route] if principal == pm.WRITER else FORGED
        elif arg in row.args:
            kwargs[arg] = world["objects"][row.args[arg]].pk
        else:
            kwargs[arg] = world["values"][arg]
    if name is None and "object_id" in kwargs:  # the admin's unnamed "<id>/" redirect to the change page
        return "/" + row.route.replace("<path:object_id>", str(kwargs["object_id"]))
    if name is None:  # the admin's catch-all for unknown URLs
        return "/admin/" + kwargs["url"]
    return reverse(name, kwargs=kwargs)


def verdict(response, row: pm.Row) -> bool:
    """True: past the permission; False: refused. Anything else is a broken cell."""
    status = response.status_code
    if status in (401, 403, 405) or (row.hides and status == 404):
        return False
    if row.token and status in (400, 404, 410):
        return False
    if status == 302 and reverse("admin:login") in response.get("Location", ""):
        return False
    if row.guard_first:
        return True
    assert status < 300 or status in (301, 302, 400, 409), f"neither allowed nor refused: {status}"
    return True


def observe(row: pm.Row, pattern: URLPattern, world) -> dict[str, tuple[bool, bool]]:
    seen = {}
    for principal in pm.PRINCIPALS:
        result = []
        for method in ("get", "post"):
            client, headers = principal_client(principal, world)
            client.raise_request_exception = not row.guard_first
            url = url_for(row, pattern, principal, world)
            if method == "post" and url.startswith("/api/"):
                # The API takes JSON only (a form body is a 415 before any permission).
                response = client.post(url, data="{}", content_type="application/json", **headers)
            else:
                response = getattr(client, method)(url, **headers)
            try:
                result.append(verdict(response, row))
            except AssertionError as exc:
                raise AssertionError(f"{principal} {method.upper()} {url}: {exc}") from None
        seen[principal] = tuple(result)
    return seen


PATTERNS = dict(walk())


def _group(route: str) -> str:
    """Rows asked against one shared world: an admin model's pages, or a URL prefix."""
    parts = route.split("/")
    if route.startswith("admin/") and len(parts) > 3 and parts[1] not in ("review", "supervision", "django-rq"):
        return "/".join(parts[:3])
    return "/".join(parts[:2])


GROUPS: dict[str, list[pm.Row]] = {}
for _row in pm.ROWS:
    GROUPS.setdefault(_group(_row.route), []).append(_row)


@pytest.mark.parametrize("group", GROUPS, ids=str)
def test_every_cell_of_the_matrix(group, world):
    wrong = {}
    for row in GROUPS[group]:
        seen = observe(row, PATTERNS[row.route], world)
        expected = {p: (p in row.get, p in row.post) for p in pm.PRINCIPALS}
        diff = {p: {"GET": seen[p][0], "POST": seen[p][1]} for p in pm.PRINCIPALS if seen[p] != expected[p]}
        if diff:
            wrong[row.route] = diff
    assert not wrong, f"allowed (True) / refused (False) differs from the matrix: {wrong}"


def test_a_post_without_the_csrf_token_is_refused_even_for_the_right_role(world):
    """The matrix posts with a valid token, so its refusals are the permission's; this
    is the other half: the right role without the token is refused too."""
    decision = world["objects"]["decision"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff("senior_moderator", username="matrix-csrf"))
    response = client.post(reverse("review:approve", args=[decision.pk]))
    assert response.status_code == 403
    decision.refresh_from_db()
    assert decision.approved_by_id is None
