"""The Appeals queue and appeal page in the back-office, driven through the admin."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from appeals import services
from appeals.models import Appeal, AppealStatus
from tests.appeals.factories import applied_action, purge_followers_of
from tests.factories import AccountFactory, StoryFactory, appeals_reviewer, supervisor

pytestmark = pytest.mark.django_db

STATEMENT = "I wrote it myself and can show the drafts to anyone who asks."
PDF = b"%PDF-1.7\n" + b"x" * 32


def file(action, **kw):
    return services.file_appeal(
        account=action.account, action=action, writer_statement=STATEMENT, contact_email="w@example.com", **kw
    )


def test_queue_list_costs_the_same_queries_for_one_or_many(client, django_assert_max_num_queries):
    reviewer = appeals_reviewer()
    client.force_login(reviewer)
    file(applied_action("paywall.remove", story=StoryFactory(is_paywalled=True)))
    with django_assert_max_num_queries(12) as one:
        assert client.get("/admin/appeals/appeal/").status_code == 200
    for _ in range(5):
        file(applied_action("partner.revoke", account=AccountFactory(partner=True)))
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get("/admin/appeals/appeal/")
    assert response.content.decode().count("A-0") >= 6


def test_home_panel_and_claim_next_button(client):
    reviewer = appeals_reviewer()
    appeal = file(applied_action("paywall.remove", story=StoryFactory(is_paywalled=True)))
    client.force_login(reviewer)
    home = client.get("/admin/").content.decode()
    assert "Appeals queue" in home and "Review next appeal" in home
    response = client.post("/admin/appeals/appeal/claim-next/")
    assert response.status_code == 302 and response["Location"] == f"/admin/appeals/appeal/{appeal.pk}/change/"
    appeal.refresh_from_db()
    assert appeal.assignee == reviewer and appeal.status == AppealStatus.IN_REVIEW


def test_appeal_page_shows_case_decision_files_and_decides(client, run_on_commit):
    story = StoryFactory(is_paywalled=True, title="Night baking")
    action = applied_action("paywall.remove", story=story)
    appeal = file(action, files=[SimpleUploadedFile("drafts.pdf", PDF)])
    reviewer = appeals_reviewer()
    client.force_login(reviewer)
    client.post(f"/admin/appeals/appeal/{appeal.pk}/claim/")
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()
    assert STATEMENT in page
    assert "drafts.pdf" in page
    assert action.decision.decided_by.username in page  # reviewers see who decided
    assert "Record decision" in page
    download = client.get(f"/admin/appeals/appeal/{appeal.pk}/files/{appeal.files.get().pk}/")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content) == PDF

    bad = client.post(f"/admin/appeals/appeal/{appeal.pk}/change/", {"outcome": "overturned", "statement": ""})
    assert bad.status_code == 200 and "This field is required." in bad.content.decode()
    with run_on_commit():
        done = client.post(
            f"/admin/appeals/appeal/{appeal.pk}/change/",
            {"outcome": "overturned", "statement": "Restored; sorry.", "internal_note": "detector FP"},
        )
    assert done.status_code == 302
    appeal.refresh_from_db()
    story.refresh_from_db()
    assert appeal.status == AppealStatus.OVERTURNED and story.is_paywalled
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()
    assert "restoration-progress" in page and 'value="100"' in page


def test_follower_appeal_page_lists_purged_accounts_with_evidence(client, writer):
    purge = purge_followers_of(writer, genuine=1, fake=1)
    appeal = services.file_appeal(
        account=writer,
        action=None,
        followers_dropped_on=timezone.localdate(),
        writer_statement=STATEMENT,
        contact_email=writer.email,
    )
    client.force_login(supervisor())
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()
    for f in purge.genuine + purge.fake:
        assert f"@{f.handle}" in page
    assert "follow-spam-detector 1.4.0" in page
    assert "Genuine: reinstate" in page and "Fake: keep purged" in page
    assert "read 40 stories in the last 30 days" in page
    assert "Record decision" not in page  # supervisors read, never decide


def test_conflicted_reviewer_sees_why_and_gets_no_buttons(client):
    from django.contrib.auth.models import Group

    action = applied_action("paywall.remove", story=StoryFactory(is_paywalled=True))
    decider = action.decision.decided_by
    decider.groups.add(Group.objects.get(name="appeals_reviewer"))
    appeal = file(action)
    client.force_login(decider)
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()
    assert "You took part in the decision this appeal challenges" in page
    assert "Claim this appeal" not in page
    client.post(f"/admin/appeals/appeal/{appeal.pk}/claim/")
    assert Appeal.objects.get(pk=appeal.pk).assignee is None


def test_writers_and_moderators_cannot_open_the_queue(client):
    from tests.factories import moderator

    client.force_login(moderator())
    assert client.get("/admin/appeals/appeal/").status_code == 403
