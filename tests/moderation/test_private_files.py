"""Appeal files and evidence files are private: random stored names, no public URL in
any mode, handed out as downloads only to staff with the right to the appeal or case."""

import importlib

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import Resolver404, clear_url_caches, resolve, reverse

from appeals import services
from cases.services.intake import add_evidence_file
from tests.appeals.factories import applied_action
from tests.cases.review_factories import story_case
from tests.factories import StoryFactory, UserFactory, appeals_reviewer, moderator

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.7\n" + b"<html><script>alert(1)</script>" * 4


@pytest.fixture
def appeal_file():
    action = applied_action("paywall.remove", story=StoryFactory(is_paywalled=True))
    appeal = services.file_appeal(
        account=action.account,
        action=action,
        writer_statement="I wrote it myself and can show the drafts to anyone who asks.",
        contact_email="w@example.com",
        files=[SimpleUploadedFile("my drafts.pdf", PDF)],
    )
    return appeal.files.get()


@pytest.fixture
def evidence():
    case = story_case()
    return add_evidence_file(actor=moderator(), case=case, upload=SimpleUploadedFile("chat log.pdf", PDF))


def _url(appeal_file):
    return f"/admin/appeals/appeal/{appeal_file.appeal_id}/files/{appeal_file.pk}/"


def _assert_attachment(response, filename):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;") and filename in response["Content-Disposition"]
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == PDF


def test_stored_names_are_random_and_the_original_name_is_data(appeal_file, evidence):
    assert appeal_file.original_name == "my drafts.pdf"
    assert "drafts" not in appeal_file.file.name and appeal_file.file.name.startswith("appeals/")
    assert evidence.data["name"] == "chat log.pdf" and "chat" not in evidence.file.name
    second = add_evidence_file(actor=moderator(), case=evidence.case, upload=SimpleUploadedFile("chat log.pdf", PDF))
    assert second.file.name != evidence.file.name  # same content, same name: still unguessable


@pytest.fixture
def urls_built_with_debug_on():
    """moderation.urls as `make run` (DEBUG=1) builds it, restored afterwards."""
    import moderation.urls

    with override_settings(DEBUG=True):
        importlib.reload(moderation.urls)
        clear_url_caches()
    yield
    importlib.reload(moderation.urls)
    clear_url_caches()


def test_no_public_url_serves_stored_files_even_with_debug_on(client, appeal_file, evidence, urls_built_with_debug_on):
    client.force_login(appeals_reviewer())
    for name in (appeal_file.file.name, evidence.file.name):
        url = "/" + settings.MEDIA_URL.lstrip("/") + name
        with pytest.raises(Resolver404):  # no pattern at all, not merely a missing file
            resolve(url)
        assert client.get(url).status_code == 404


def test_appeal_files_are_refused_to_anonymous_and_to_staff_without_the_right(client, appeal_file):
    anonymous = client.get(_url(appeal_file))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    client.force_login(UserFactory(is_staff=True))
    assert client.get(_url(appeal_file)).status_code == 403
    client.force_login(moderator())
    assert client.get(_url(appeal_file)).status_code == 403


def test_appeals_reviewers_download_appeal_files_as_attachments(client, appeal_file):
    client.force_login(appeals_reviewer())
    _assert_attachment(client.get(_url(appeal_file)), "my drafts.pdf")


def test_evidence_files_are_refused_to_anonymous_and_to_staff_without_the_right(client, evidence):
    url = reverse("review:evidence_file", args=[evidence.pk])
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 403


def test_staff_who_may_view_the_case_download_evidence_as_attachments(client, evidence):
    client.force_login(moderator())
    response = client.get(reverse("review:evidence_file", args=[evidence.pk]))
    _assert_attachment(response, "chat log.pdf")
    page = client.get(reverse("review:case", args=[evidence.case_id])).content.decode()
    assert reverse("review:evidence_file", args=[evidence.pk]) in page
