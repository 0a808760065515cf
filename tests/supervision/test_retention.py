"""Retention: evidence, snapshots, appeal files and writers' personal data go once the
appeal window plus the rule's period has passed since the last decision or appeal;
decisions, statements and the audit trail stay, and the chain still verifies."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from appeals.models import Appeal, AppealFile, AppealStatus
from cases.models import Decision, Evidence, LegalHold, Notice
from cases.services.intake import create_api_client
from cases.services.legal_hold import HoldRefused, lift_legal_hold, place_legal_hold
from moderation.audit import verify_chain
from moderation.audit_sequencer import integrate
from moderation.mirror.services import mirror_accounts
from moderation.models import Account, AuditChainEntry, AuditEvent, WriterKey
from moderation.personal_data import ERASED, reveal, reveal_all, sealed
from supervision.jobs import run_retention_job
from supervision.models import RetentionKind, RetentionRule
from supervision.retention import run_retention, save_retention_rule
from tests.appeals.factories import applied_action, notice_for
from tests.factories import AccountFactory, CaseFactory, StoryFactory, moderator, supervisor

pytestmark = pytest.mark.django_db

KEEP = timedelta(days=183 + 30)  # the appeal window, then the seeded 30-day margin


class World:
    """One writer's decided case from `t0`: evidence (a snapshot, a file, a note), the
    notice, an upheld appeal with a file, and an email change the platform mirrored."""

    def __init__(self, t0):
        # Other writers' open cases first, so this case's id is not its appeal file's id
        # (a query that joined the two by mistake would still pass if they matched).
        CaseFactory.create_batch(3)
        self.writer = AccountFactory(platform_id="w-ret", handle="ret", email="ret.old@example.com", facts_version=1)
        story = StoryFactory(author=self.writer, is_paywalled=True)
        self.action = applied_action("paywall.remove", account=self.writer, story=story)
        self.case = self.action.case
        self.decision = self.action.decision
        Decision.objects.filter(pk=self.decision.pk).update(decided_at=t0)
        type(self.case).objects.filter(pk=self.case.pk).update(decided_at=t0, opened_at=t0 - timedelta(days=1))
        self.snapshot = Evidence.objects.create(
            case=self.case, kind="snapshot", title="Story text", body="Once upon a paywall", content_hash="ab" * 32
        )
        self.file = Evidence.objects.create(
            case=self.case,
            kind="file",
            title="screenshot",
            file=ContentFile(b"%PDF-1.4 evidence", name="evidence.pdf"),
            data={"name": "evidence.pdf"},
        )
        self.note = Evidence.objects.create(case=self.case, kind="note", body="Looks generated.")
        self.notice = notice_for(self.decision, sent_at=t0)
        self.appeal = Appeal.objects.create(
            account=self.writer,
            kind="action",
            action=self.action,
            writer_statement="I wrote it myself, my phone is 555-0100.",
            contact_email="ret.contact@example.com",
            tracking_token="tok-ret",
            status=AppealStatus.UPHELD,
            decided_by=moderator(),
            decision_statement="We looked again and the decision stands.",
            submitted_at=t0 - timedelta(hours=2),
            decided_at=t0 - timedelta(hours=1),
        )
        self.appeal_file = AppealFile.objects.create(
            appeal=self.appeal,
            file=ContentFile(b"%PDF-1.4 appeal", name="draft.pdf"),
            original_name="draft.pdf",
            content_type="application/pdf",
            size=15,
        )
        client, _ = create_api_client(name="platform-mirror", scopes=["platform"])
        mirror_accounts(client=client, items=[{"platform_id": "w-ret", "sequence": 2, "email": "ret.new@example.com"}])
        self.email_change = AuditEvent.objects.get(verb="account.facts_changed", target_id=str(self.writer.pk))
        self.files = [self.file.file.name, self.appeal_file.file.name]
        self.storage = self.file.file.storage


@pytest.fixture
def t0():
    return timezone.now()


@pytest.fixture
def world(t0):
    return World(t0)


def _run(now, run_on_commit):
    with run_on_commit():
        return run_retention(now=now)


def purged_rows():
    return AuditEvent.objects.filter(verb="retention.purged")


def test_a_day_before_its_time_everything_is_kept(world, t0, run_on_commit):
    report = _run(t0 + KEEP - timedelta(days=1), run_on_commit)

    assert report.purged == {} and not purged_rows().exists()
    world.snapshot.refresh_from_db()
    assert world.snapshot.body == "Once upon a paywall" and world.snapshot.purged_at is None
    assert Notice.objects.get(pk=world.notice.pk).email == "ret.old@example.com"
    assert AppealFile.objects.filter(pk=world.appeal_file.pk).exists()
    assert all(world.storage.exists(name) for name in world.files)
    assert reveal(world.email_change.after["email"]) == "ret.new@example.com"


def test_a_day_after_its_time_evidence_files_and_personal_data_are_gone(world, t0, run_on_commit):
    integrate()
    chained_hash = AuditChainEntry.objects.get(event_id=world.email_change.pk).hash
    assert chained_hash

    report = _run(t0 + KEEP + timedelta(days=1), run_on_commit)

    assert report.purged == {"evidence": 2, "snapshot": 1, "appeal_file": 1, "personal_data": 3}
    for item in Evidence.objects.filter(case=world.case):
        assert item.purged_at and item.body == "" and item.data == {} and not item.file
    assert Evidence.objects.get(pk=world.snapshot.pk).content_hash == "ab" * 32, "the hash proves what was there"
    assert not any(world.storage.exists(name) for name in world.files)
    assert not AppealFile.objects.filter(appeal=world.appeal).exists()
    appeal = Appeal.objects.get(pk=world.appeal.pk)
    assert appeal.contact_email == "" and appeal.writer_statement == "" and appeal.personal_data_erased_at
    assert Notice.objects.get(pk=world.notice.pk).email == ""
    assert not WriterKey.objects.filter(account=world.writer, shredded_at__isnull=True).exists()

    # The decision, its statement of reasons, the notice text and the appeal's outcome stay.
    decision = Decision.objects.get(pk=world.decision.pk)
    assert decision.statement and decision.rationale and decision.outcomes == ["paywall.remove"]
    assert Notice.objects.get(pk=world.notice.pk).body == world.notice.body
    assert appeal.status == AppealStatus.UPHELD and appeal.decision_statement

    # One audit row per purge, naming kind and counts, and no personal data.
    rows = list(purged_rows().order_by("id"))
    assert sorted(r.after["kind"] for r in rows) == [
        "appeal_file",
        "evidence",
        "personal_data",
        "personal_data",
        "snapshot",
    ]
    assert {r.case_ref for r in rows if "writer_keys" not in r.after} == {world.case.pk}
    text = json.dumps([[r.after, r.reason, r.target_label] for r in rows])
    assert "@" not in text and "ret" not in text.replace("retention", "").replace("Retention", "")

    # The email-change row is unchanged, its hash intact, its value unreadable.
    integrate()
    row = AuditEvent.objects.get(pk=world.email_change.pk)
    assert AuditChainEntry.objects.get(event_id=row.pk).hash == chained_hash
    assert row.after == world.email_change.after
    assert reveal(row.after["email"]) == ERASED and reveal_all(row.before)["email"] == ERASED
    assert "example.com" not in json.dumps(row.before) + json.dumps(row.after)
    assert verify_chain().ok


def test_a_second_run_purges_nothing(world, t0, run_on_commit):
    later = t0 + KEEP + timedelta(days=1)
    _run(later, run_on_commit)
    rows = purged_rows().count()

    assert _run(later + timedelta(days=1), run_on_commit).purged == {}
    assert purged_rows().count() == rows


def test_a_legal_hold_stops_deletion_until_it_is_lifted(world, t0, run_on_commit):
    boss = supervisor()
    place_legal_hold(actor=boss, case=world.case, reason="Court order 12/2026")
    later = t0 + KEEP + timedelta(days=1)

    assert _run(later, run_on_commit).purged == {}
    assert Evidence.objects.get(pk=world.snapshot.pk).body == "Once upon a paywall"
    assert Appeal.objects.get(pk=world.appeal.pk).contact_email == "ret.contact@example.com"
    assert WriterKey.objects.filter(account=world.writer, shredded_at__isnull=True).exists()

    lift_legal_hold(actor=boss, case=world.case, reason="Proceedings closed")
    assert _run(later, run_on_commit).purged["snapshot"] == 1
    assert Evidence.objects.get(pk=world.snapshot.pk).body == ""
    verbs = list(
        AuditEvent.objects.filter(case_ref=world.case.pk, verb__startswith="case.legal_hold").values_list(
            "verb", "reason"
        )
    )
    assert sorted(verbs) == [
        ("case.legal_hold_lifted", "Proceedings closed"),
        ("case.legal_hold_placed", "Court order 12/2026"),
    ]


def test_a_recent_appeal_restarts_the_clock(world, t0, run_on_commit):
    Appeal.objects.filter(pk=world.appeal.pk).update(decided_at=t0 + timedelta(days=10))

    assert _run(t0 + KEEP + timedelta(days=1), run_on_commit).purged == {}
    assert _run(t0 + KEEP + timedelta(days=11), run_on_commit).purged["evidence"] == 2


def test_the_writer_key_stays_while_another_case_of_theirs_is_open(world, t0, run_on_commit):
    from tests.factories import CaseFactory

    CaseFactory(account=world.writer)
    _run(t0 + KEEP + timedelta(days=1), run_on_commit)

    assert WriterKey.objects.filter(account=world.writer, shredded_at__isnull=True).exists()
    assert reveal(AuditEvent.objects.get(pk=world.email_change.pk).after["email"]) == "ret.new@example.com"


def test_only_supervisors_place_holds_and_a_case_holds_once(world):
    with pytest.raises(PermissionDenied):
        place_legal_hold(actor=moderator(), case=world.case, reason="no")
    boss = supervisor()
    with pytest.raises(HoldRefused) as empty:
        place_legal_hold(actor=boss, case=world.case, reason="  ")
    assert "reason" in empty.value.message_dict
    place_legal_hold(actor=boss, case=world.case, reason="Inquiry")
    with pytest.raises(HoldRefused):
        place_legal_hold(actor=boss, case=world.case, reason="Again")
    assert LegalHold.objects.filter(case=world.case).count() == 1


def test_the_case_page_shows_the_hold_and_a_supervisor_places_it(client, world):
    boss = supervisor()
    client.force_login(boss)
    page = client.get(reverse("review:case", args=[world.case.pk]))
    assert page.status_code == 200 and b"Place a legal hold" in page.content

    response = client.post(reverse("review:hold", args=[world.case.pk]), {"reason": "Regulator request"})
    assert response.status_code == 302
    page = client.get(reverse("review:case", args=[world.case.pk]))
    assert b"On hold" in page.content and b"Regulator request" in page.content and b"Lift the hold" in page.content

    response = client.post(reverse("review:hold_lift", args=[world.case.pk]), {"lift_reason": ""})
    assert response.status_code == 302 and LegalHold.objects.get(case=world.case).lifted_at is None


def test_supervisors_change_a_rule_and_the_change_is_audited():
    rule = RetentionRule.objects.get(kind=RetentionKind.EVIDENCE)
    rule.keep_days_after_last_activity = 60
    save_retention_rule(actor=supervisor(), rule=rule)

    event = AuditEvent.objects.get(verb="retention.rule_saved")
    assert event.before["keep_days_after_last_activity"] == 30 and event.after["keep_days_after_last_activity"] == 60
    with pytest.raises(PermissionDenied):
        save_retention_rule(actor=moderator(), rule=rule)


def test_every_kind_is_seeded():
    assert set(RetentionRule.objects.values_list("kind", flat=True)) == set(RetentionKind.values)


def test_sealed_values_are_per_writer_and_empty_values_stay_plain(db):
    a, b = AccountFactory(), AccountFactory()
    from django.db import transaction

    with transaction.atomic():
        sa, sb = sealed(a, "a@example.com"), sealed(b, "a@example.com")
    assert sa["key"] != sb["key"] and sa["token"] != sb["token"]
    assert sealed(a, "") == "" and sealed(a, None) is None
    assert reveal(sa) == "a@example.com" and reveal("plain") == "plain"


def test_the_job_runs_inline(world, run_on_commit):
    with run_on_commit():
        assert run_retention_job() == {}
    assert Account.objects.filter(pk=world.writer.pk).exists()


def test_the_case_page_says_what_retention_deleted(client, world, t0, run_on_commit):
    _run(t0 + KEEP + timedelta(days=1), run_on_commit)
    client.force_login(supervisor())
    page = client.get(reverse("review:case", args=[world.case.pk]))
    assert page.status_code == 200
    assert page.content.count(b"Deleted under the retention policy") == 3
    assert b"Once upon a paywall" not in page.content
    assert b"Legal hold" in page.content


def test_the_audit_event_page_reveals_a_sealed_email_until_it_is_shredded(client, world, t0, run_on_commit):
    client.force_login(supervisor())
    url = reverse("admin:moderation_auditevent_change", args=[world.email_change.pk])
    assert b"ret.new@example.com" in client.get(url).content

    _run(t0 + KEEP + timedelta(days=1), run_on_commit)
    page = client.get(url).content
    assert b"[erased]" in page and b"ret.new@example.com" not in page


def test_a_hold_placed_after_the_case_was_picked_still_wins(world, t0, run_on_commit, monkeypatch):
    from cases.models import Case
    from supervision import retention

    picked = list(retention.cases_past(t0 + timedelta(days=1)).values_list("pk", flat=True))
    assert world.case.pk in picked
    place_legal_hold(actor=supervisor(), case=world.case, reason="Just in time")
    # The run works from the list it drew before the hold was placed.
    monkeypatch.setattr(retention, "cases_past", lambda cutoff: Case.objects.filter(pk__in=picked))
    report = _run(t0 + KEEP + timedelta(days=1), run_on_commit)

    assert not any(kind in report.purged for kind in ("evidence", "snapshot", "appeal_file"))
    assert Evidence.objects.get(pk=world.snapshot.pk).body == "Once upon a paywall"
