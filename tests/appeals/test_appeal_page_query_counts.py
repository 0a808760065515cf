"""The appeal page costs the same number of queries whatever the data size (issue 16):
an appeal with one file on a case of one signal, or with several files on a case of
many signals whose writer has appealed before."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from appeals import services
from tests.appeals.factories import applied_action
from tests.factories import SignalFactory, StoryFactory, appeals_reviewer

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n" + b"x" * 32


def _appeal(*, signals: int, files: int, earlier: int):
    story = StoryFactory(is_paywalled=True)
    for _ in range(earlier):  # the writer's earlier appeals, on other stories
        _file(applied_action("paywall.remove", story=StoryFactory(author=story.author, is_paywalled=True)), files=1)
    action = applied_action("paywall.remove", story=story)
    for _ in range(signals):
        SignalFactory(detector=True, account=story.author, story=story, case=action.case)
    return _file(action, files=files)


def _file(action, *, files: int):
    return services.file_appeal(
        account=action.account,
        action=action,
        writer_statement="I wrote it myself and can show the drafts to anyone who asks.",
        contact_email="w@example.com",
        files=[SimpleUploadedFile(f"draft-{n}.pdf", PDF) for n in range(files)],
    )


def _queries(client, appeal) -> int:
    url = f"/admin/appeals/appeal/{appeal.pk}/change/"
    client.get(url)  # warm the per-process caches outside the count
    with CaptureQueriesContext(connection) as run:
        assert client.get(url).status_code == 200
    return len(run.captured_queries)


def test_the_appeal_page_costs_the_same_queries_for_a_small_and_a_large_appeal(client):
    small = _appeal(signals=1, files=1, earlier=0)
    large = _appeal(signals=10, files=3, earlier=3)
    client.force_login(appeals_reviewer())
    assert _queries(client, small) == _queries(client, large)
