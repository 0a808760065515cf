from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import Case, Evidence, EvidenceKind, Queue, ReporterStanding, RoutingRule, Signal
from cases.priority import compute_priority
from cases.routing import route
from cases.services.intake import (
    add_evidence_file,
    add_staff_note,
    mute_reporter,
    recompute_priority,
    settle_reporters,
    unmute_reporter,
)
from moderation.models import ApiClient, AuditEvent, SignalSource
from tests.cases.intake_helpers import detector_signal, make_client, reader_signal, send
from tests.factories import AccountFactory, CaseFactory, StoryFactory, moderator, supervisor

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform():
    return make_client("platform", [SignalSource.READER_REPORT, SignalSource.SHOW_LESS])[0]


# --- priority -----------------------------------------------------------------------


def _priority(**overrides):
    now = timezone.now()
    args = dict(
        severity=2,
        reporter_reliabilities=[],
        max_detector_score=None,
        follower_count=0,
        is_partner=False,
        sla_due_at=now + timedelta(hours=72),
        now=now,
    )
    return compute_priority(**{**args, **overrides})


def test_each_factor_of_the_priority_formula_raises_it():
    base = _priority()
    assert _priority(severity=4) > _priority(severity=3) > base
    assert _priority(reporter_reliabilities=[0.5, 0.5]) > _priority(reporter_reliabilities=[0.5]) > base
    assert _priority(reporter_reliabilities=[0.9]) > _priority(reporter_reliabilities=[0.1])
    assert _priority(max_detector_score=0.95) > _priority(max_detector_score=0.5) > base
    assert _priority(follower_count=50_000) > _priority(follower_count=100) > base
    assert _priority(is_partner=True) == base + 50
    now = timezone.now()
    assert _priority(sla_due_at=now - timedelta(minutes=1)) > _priority(sla_due_at=now + timedelta(hours=2)) > base


def test_cases_are_ordered_by_what_is_at_stake(platform):
    detector = make_client("detector")[0]
    quiet = StoryFactory(author=AccountFactory(follower_count=3))
    famous_partner = StoryFactory(author=AccountFactory(partner=True, follower_count=40_000), is_paywalled=True)
    severe = StoryFactory()
    a = send(detector, detector_signal(quiet.author, quiet, score=0.6))
    b = send(detector, detector_signal(famous_partner.author, famous_partner, score=0.6))
    c = send(detector, detector_signal(severe.author, severe, code="ai.prohibited_tooling", score=0.6))
    order = list(Case.objects.order_by("-priority").values_list("pk", flat=True))
    assert order == [c.case_id, b.case_id, a.case_id]
    assert Case.objects.get(pk=c.case_id).queue.slug == "escalations"


def test_reliable_reporters_weigh_more_than_unreliable_ones(platform):
    trusted, doubtful = AccountFactory(), AccountFactory()
    ReporterStanding.objects.create(reporter=trusted, upheld_count=18, rejected_count=0)
    ReporterStanding.objects.create(reporter=doubtful, upheld_count=0, rejected_count=18)
    s1, s2 = StoryFactory(), StoryFactory()
    one = send(platform, reader_signal(s1.author, s1, reporter=trusted))
    two = send(platform, reader_signal(s2.author, s2, reporter=doubtful))
    assert Case.objects.get(pk=one.case_id).priority > Case.objects.get(pk=two.case_id).priority


def test_priority_is_recomputed_as_the_sla_nears_with_an_audit_row():
    detector = make_client("detector")[0]
    story = StoryFactory()
    case = Case.objects.get(pk=send(detector, detector_signal(story.author, story)).case_id)
    later = recompute_priority(case=case, now=case.sla_due_at + timedelta(minutes=1))
    assert later.priority > case.priority
    assert AuditEvent.objects.filter(verb="case.priority_recomputed", case_ref=case.pk).count() == 1


# --- routing ------------------------------------------------------------------------


def test_routing_rules_are_data_first_match_by_position_wins():
    assert route(policy_family="spam", policy_code="spam.scraped", source="detector").slug == "spam"
    assert route(policy_family="ai", policy_code="ai.prohibited_tooling", source="detector").slug == "escalations"
    assert route(policy_family="ai", policy_code="ai.paywalled_generated", source="reader_report").slug == (
        "reader-reports"
    )
    assert route(policy_family="unheard-of", source="detector").slug == "reader-reports"
    special = Queue.objects.create(slug="scraping", name="Scraping", sla_hours=6)
    rule = RoutingRule.objects.create(queue=special, position=1, policy_code="spam.scraped")
    assert route(policy_family="spam", policy_code="spam.scraped", source="detector") == special
    rule.is_active = False
    rule.save()
    assert route(policy_family="spam", policy_code="spam.scraped", source="detector").slug == "spam"


def test_sla_due_time_comes_from_the_queue():
    Queue.objects.filter(slug="spam").update(sla_hours=6)
    detector = make_client("detector")[0]
    account = AccountFactory()
    now = timezone.now()
    case = Case.objects.get(pk=send(detector, detector_signal(account, None, code="spam.automation"), now=now).case_id)
    assert case.sla_due_at == now + timedelta(hours=6)


# --- reporters ----------------------------------------------------------------------


def test_muting_a_reporter_sets_aside_pending_reports_and_stops_new_cases(platform):
    troll, honest = AccountFactory(handle="troll"), AccountFactory()
    story, other = StoryFactory(), StoryFactory()
    shared = send(platform, reader_signal(story.author, story, reporter=troll))
    send(platform, reader_signal(story.author, story, reporter=honest))
    case = Case.objects.get(pk=shared.case_id)
    assert case.reporter_count == 2
    priority_before = case.priority
    boss = supervisor()

    with pytest.raises(PermissionDenied):
        mute_reporter(actor=moderator(), reporter=troll, reason="bad faith")
    with pytest.raises(ValidationError):
        mute_reporter(actor=boss, reporter=troll, reason=" ")
    mute_reporter(actor=boss, reporter=troll, reason="Files a report on every story by one writer.")

    case.refresh_from_db()
    assert case.reporter_count == 1 and case.priority < priority_before
    assert Signal.objects.get(pk=shared.signal_id).set_aside is True
    event = AuditEvent.objects.get(verb="reporter.muted")
    assert event.after["signals_set_aside"] == 1 and event.after["cases"] == [case.pk]
    assert event.reason == "Files a report on every story by one writer."

    later = send(platform, reader_signal(other.author, other, reporter=troll))
    assert later.case_id is None
    assert Signal.objects.get(pk=later.signal_id).set_aside is True
    assert not Case.objects.filter(story=other).exists()

    unmute_reporter(actor=boss, reporter=troll)
    again = send(platform, reader_signal(other.author, other, reporter=troll))
    assert again.case_id is not None


def test_settling_a_decided_case_moves_each_readers_reliability_once(platform):
    story = StoryFactory()
    alice, bob = AccountFactory(), AccountFactory()
    result = send(platform, reader_signal(story.author, story, reporter=alice))
    send(platform, reader_signal(story.author, story, reporter=alice))
    send(platform, reader_signal(story.author, story, reporter=bob, source=SignalSource.SHOW_LESS))
    case = Case.objects.get(pk=result.case_id)

    with transaction.atomic():
        assert settle_reporters(case=case, upheld=True) == sorted([alice.pk, bob.pk])
    standing = ReporterStanding.objects.get(reporter=alice)
    assert (standing.upheld_count, standing.rejected_count) == (1, 0)
    assert standing.reliability > 0.5
    assert AuditEvent.objects.filter(verb="reporter.standing_settled", case_ref=case.pk).count() == 1


# --- evidence -----------------------------------------------------------------------


def test_staff_notes_and_files_are_checked_and_never_edited_or_deleted():
    case = CaseFactory()
    user = moderator()
    note = add_staff_note(actor=user, case=case, text="Compared with the author's 2023 stories: same phrasing.")
    with pytest.raises(ValidationError):
        add_staff_note(actor=user, case=case, text="   ")
    with pytest.raises(PermissionDenied):
        add_staff_note(actor=supervisor(), case=case, text="Not mine to add.")

    pdf = add_evidence_file(
        actor=user, case=case, upload=SimpleUploadedFile("report.pdf", b"%PDF-1.7 ..."), note="Export"
    )
    assert pdf.data["content_type"] == "application/pdf" and len(pdf.content_hash) == 64
    txt = add_evidence_file(actor=user, case=case, upload=SimpleUploadedFile("chat.txt", b"plain words"))
    assert txt.kind == EvidenceKind.FILE
    for bad in [
        SimpleUploadedFile("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * (5 * 1024 * 1024)),
        SimpleUploadedFile("fake.pdf", b"<html>"),
        SimpleUploadedFile("run.sh", b"#!/bin/sh"),
        SimpleUploadedFile("empty.txt", b""),
    ]:
        with pytest.raises(ValidationError):
            add_evidence_file(actor=user, case=case, upload=bad)

    note.body = "rewritten"
    with pytest.raises(ValueError):
        note.save()
    with pytest.raises(ValueError):
        note.delete()
    assert Evidence.objects.get(pk=note.pk).body.startswith("Compared with")
    assert AuditEvent.objects.filter(verb="evidence.added", case_ref=case.pk).count() == 3


# --- clients ------------------------------------------------------------------------


def test_create_api_client_command_prints_a_working_key_once(django_capture_on_commit_callbacks):
    out = StringIO()
    call_command("create_api_client", "spam-detector", "--sources", "detector", stdout=out)
    key = out.getvalue().splitlines()[2]
    client = ApiClient.objects.get(name="spam-detector")
    assert client.allowed_sources == ["detector"]
    assert client.user.groups.filter(name="service").exists() and not client.user.is_staff
    assert key not in str(list(client.keys.values()))  # only the hash is stored
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/api/v1/cases/").status_code == 200
    assert AuditEvent.objects.filter(verb__in=["api_client.created", "api_client.key_issued"]).count() == 2
    with pytest.raises(CommandError):
        call_command("create_api_client", "spam-detector", "--sources", "detector", stdout=out)
