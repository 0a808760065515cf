"""Filing an appeal from the writer's side: the form, its checks, the window, one open
appeal per action, emails, and the status page showing nothing internal."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from appeals.models import Appeal, AppealKind, AppealStatus
from appeals.services import file_appeal
from appeals.uploads import MAX_FILE_BYTES
from cases.notices import make_appeal_token
from moderation.models import AuditEvent
from tests.appeals.factories import notice_for, purge_followers_of

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"x" * 64
STATEMENT = "I wrote this story myself; my drafts and notes show every revision."


def _form_url(notice):
    return f"/appeal/notice/{make_appeal_token(notice)}/"


def _post(client, notice, **overrides):
    data = {
        "choice": f"action-{notice.decision.actions.get().pk}",
        "writer_statement": STATEMENT,
        "contact_email": "ada@example.com",
        **overrides,
    }
    return client.post(_form_url(notice), data)


def test_writer_files_an_appeal_with_a_file_and_lands_on_the_status_page(client, paywall_notice, run_on_commit):
    with run_on_commit():
        response = _post(client, paywall_notice, files=[SimpleUploadedFile("draft.png", PNG, "image/png")])
    appeal = Appeal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/appeal/status/{appeal.tracking_token}/"
    assert appeal.kind == AppealKind.ACTION
    assert appeal.action == paywall_notice.decision.actions.get()
    assert appeal.notice == paywall_notice
    assert appeal.money_at_stake  # paywall removal stops earnings
    assert len(appeal.tracking_token) >= 40
    [stored] = appeal.files.all()
    assert (stored.original_name, stored.content_type, stored.size) == ("draft.png", "image/png", len(PNG))
    event = AuditEvent.objects.get(verb="appeal.submitted")
    assert event.appeal_ref == appeal.pk and event.case_ref == appeal.action.case_id
    assert [m.subject for m in mail.outbox] == [f"We received your appeal (A-{appeal.pk:06d})"]
    assert appeal.tracking_token in mail.outbox[0].body

    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "We received your appeal" in body
    assert "Submitted" in body and "draft.png" in body


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("virus.png", b"MZ\x90\x00" + b"\x00" * 64, "is not a PNG, JPEG or PDF file"),
        ("doc.pdf", PNG, "doc.pdf: its content does not match its name."),
        ("empty.pdf", b"", "The submitted file is empty."),
        ("huge.pdf", b"%PDF-" + b"x" * MAX_FILE_BYTES, "is larger than 5 MB"),
    ],
)
def test_files_are_checked_by_content_and_size(client, paywall_notice, name, content, message):
    response = _post(client, paywall_notice, files=[SimpleUploadedFile(name, content)])
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Appeal.objects.exists()


def test_every_bad_field_gets_its_own_message(client, paywall_notice):
    response = client.post(
        _form_url(paywall_notice),
        {"choice": "action-999999", "writer_statement": "too short", "contact_email": "nope"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Select a valid choice." in body
    assert "Ensure this value has at least 20 characters" in body
    assert "Enter a valid email address." in body
    assert "Please check the form" in body


def test_garbage_posts_never_crash(client, paywall_notice):
    for data in [{}, {"choice": ["a", "b"]}, {"followers_dropped_on": "31/31/2024", "choice": "followers"}]:
        assert client.post(_form_url(paywall_notice), data).status_code == 200


def test_csrf_is_enforced(paywall_notice):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(_form_url(paywall_notice), {"writer_statement": STATEMENT}).status_code == 403
    assert strict.post("/appeal/", {"handle": "ada", "email": "ada@example.com"}).status_code == 403


def test_one_open_appeal_per_action_without_revealing_the_first(client, paywall_notice):
    assert _post(client, paywall_notice).status_code == 302
    first = Appeal.objects.get()
    response = _post(client, paywall_notice)
    body = response.content.decode()
    assert response.status_code == 200
    assert "You already have an open appeal about this" in body
    assert first.tracking_token not in body
    assert Appeal.objects.count() == 1


def test_a_decided_appeal_does_not_block_a_new_one(client, paywall_notice, reviewer):
    assert _post(client, paywall_notice).status_code == 302
    Appeal.objects.update(status=AppealStatus.IN_REVIEW)  # as the database allows: reviewed, then decided
    Appeal.objects.update(status=AppealStatus.UPHELD, decided_by=reviewer, decided_at=timezone.now())
    assert _post(client, paywall_notice).status_code == 302
    assert Appeal.objects.count() == 2


def test_appeals_close_six_months_after_the_notice(client, paywall_action):
    stale = notice_for(paywall_action.decision, sent_at=timezone.now() - timedelta(days=184))
    response = client.get(_form_url(stale))
    assert response.status_code == 200
    assert "There is nothing here to appeal" in response.content.decode()
    with pytest.raises(ValidationError) as exc:
        file_appeal(
            account=paywall_action.account,
            action=paywall_action,
            writer_statement=STATEMENT,
            contact_email="ada@example.com",
            notice=stale,
        )
    assert "six months" in str(exc.value)
    fresh = notice_for(paywall_action.decision, sent_at=timezone.now() - timedelta(days=170))
    assert "Story removed from the paywall" in client.get(_form_url(fresh)).content.decode()


def test_filing_is_rate_limited_per_account(client, paywall_notice):
    statuses = [
        client.post(_form_url(paywall_notice), {"choice": "x"}, REMOTE_ADDR=f"10.1.0.{i}").status_code for i in range(6)
    ]
    assert statuses == [200] * 5 + [429]


def test_follower_appeal_records_every_purged_follower_with_a_suggestion(client, writer, run_on_commit):
    purge = purge_followers_of(writer, genuine=2, fake=2)
    from appeals.tokens import make_magic_token

    url = f"/appeal/start/{make_magic_token(writer)}/"
    assert "My followers dropped" in client.get(url).content.decode()
    with run_on_commit():
        response = client.post(
            url, {"choice": "followers", "writer_statement": STATEMENT, "contact_email": "ada@example.com"}
        )
    assert response.status_code == 302, "the date is optional"
    appeal = Appeal.objects.get()
    assert appeal.kind == AppealKind.FOLLOWERS and appeal.money_at_stake
    assert appeal.followers_dropped_on is None
    suggested = dict(appeal.follower_reviews.values_list("follower_id", "suggested_verdict"))
    assert suggested == {
        **{f.pk: "reinstate" for f in purge.genuine},
        **{f.pk: "keep_purged" for f in purge.fake},
    }
    again = client.post(
        url,
        {
            "choice": "followers",
            "followers_dropped_on": timezone.localdate().isoformat(),
            "writer_statement": STATEMENT,
            "contact_email": "ada@example.com",
        },
    )
    assert "You already have an open appeal about this" in again.content.decode()


def test_followers_option_only_for_writers_who_lost_followers(client, paywall_notice):
    assert "My followers dropped" not in client.get(_form_url(paywall_notice)).content.decode()


def test_status_page_shows_nothing_internal(client, paywall_notice, reviewer, run_on_commit):
    from appeals import services

    _post(client, paywall_notice)
    appeal = Appeal.objects.get()
    decision = appeal.action.decision
    with run_on_commit():
        services.claim_next_appeal(user=reviewer)
        services.decide_appeal(
            appeal=appeal,
            actor=reviewer,
            outcome=AppealStatus.UPHELD,
            statement="We looked again and the story is AI-generated; it stays off the paywall.",
            internal_note="SECRET-NOTE detector 0.99 and the reports agree",
        )
    body = client.get(f"/appeal/status/{appeal.tracking_token}/").content.decode()
    assert "Decision upheld" in body
    assert "it stays off the paywall" in body
    for leak in ["SECRET-NOTE", reviewer.username, decision.decided_by.username, decision.rationale]:
        assert leak not in body
    for email in mail.outbox:
        assert "SECRET-NOTE" not in email.body and reviewer.username not in email.body


def test_unknown_status_token_is_a_plain_404(client):
    assert client.get("/appeal/status/not-a-real-token/").status_code == 404
