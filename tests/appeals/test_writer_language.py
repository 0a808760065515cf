"""The writer's pages and emails speak the account's language as the platform reports
it, else the browser's (Accept-Language), else English; the back-office stays English.
Japanese doubles as the check that no English sentence was left unmarked anywhere a
writer reads (templates, forms, services' messages)."""

import re

import pytest
from django.core import mail

from appeals.models import Appeal
from appeals.services import deliver_magic_link
from cases.notices import make_appeal_token

pytestmark = pytest.mark.django_db

STATEMENT = "I wrote this story myself; my drafts and notes show every revision."
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,}(?:[ ,'’]+[A-Za-z]{2,}){2,}")


def english_left(html: str, *, data=()) -> list[str]:
    """Runs of three or more English words a writer would read, once the writer's own
    data (titles, handles, what they typed) is taken out."""
    text = re.sub(r"<head>.*?</head>", " ", html, flags=re.S)
    labels = " ".join(re.findall(r'aria-label="([^"]*)"', text))
    text = re.sub(r"<[^>]*>", " ", text) + " " + labels
    for item in data:
        text = text.replace(item, " ")
    return ENGLISH_SENTENCE.findall(text)


def form_url(notice):
    return f"/appeal/notice/{make_appeal_token(notice)}/"


@pytest.mark.parametrize(
    ("accept", "language", "words"),
    [
        ("es-ES,es;q=0.9,en;q=0.5", "es", "Apelar una decisión"),
        ("ja-JP,ja;q=0.9", "ja", "決定に異議を申し立てる"),
        ("fr-FR,fr;q=0.9", "en", "Appeal a decision"),
        ("", "en", "Appeal a decision"),
    ],
)
def test_the_start_page_follows_the_browser_then_english(client, accept, language, words):
    response = client.get("/appeal/", HTTP_ACCEPT_LANGUAGE=accept)
    page = response.content.decode()
    assert words in page and f'<html lang="{language}' in page
    assert response["Content-Language"].startswith(language)
    assert "Accept-Language" in response["Vary"]


def test_the_back_office_stays_english_whatever_the_browser_says(client):
    page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="en' in page and "Iniciar sesión" not in page


def test_the_accounts_language_beats_the_browsers(client, writer, paywall_notice):
    writer.language = "ja"
    writer.save(update_fields=["language"])
    page = client.get(form_url(paywall_notice), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="ja"' in page and "異議申し立てを送信" in page and "Enviar mi apelación" not in page


def test_every_writer_page_reads_japanese_through_and_through(client, writer, paywall_notice, run_on_commit):
    writer.language = "ja"
    writer.save(update_fields=["language"])
    facts = paywall_notice.decision.statement  # the moderator's own words are not translated
    data = ["Why I bake at night", writer.handle, writer.email, STATEMENT, facts, "Trust & Safety"]
    ja = {"HTTP_ACCEPT_LANGUAGE": "ja"}
    assert english_left(client.get("/appeal/").content.decode(), data=data)  # the check sees English
    pages = {
        "start": client.get("/appeal/", **ja),
        "check email": client.post("/appeal/", {"handle": "ada", "email": "ada@example.com"}, **ja),
        "start with errors": client.post("/appeal/", {"handle": "", "email": "nope"}, **ja),
        "bad link": client.get("/appeal/notice/forged/", **ja),
        "form": client.get(form_url(paywall_notice)),
        "form with errors": client.post(form_url(paywall_notice), {"writer_statement": "short"}),
    }
    with run_on_commit():
        filed = client.post(
            form_url(paywall_notice),
            {
                "choice": f"action-{paywall_notice.decision.actions.get().pk}",
                "writer_statement": STATEMENT,
                "contact_email": writer.email,
            },
        )
    pages["status"] = client.get(filed["Location"], HTTP_ACCEPT_LANGUAGE="en")
    for name, response in pages.items():
        assert response.status_code in (200, 400), name
        html = response.content.decode()
        assert '<html lang="ja"' in html, name
        assert not english_left(html, data=data), (name, english_left(html, data=data))
    assert "異議申し立てを受け付けました" in pages["status"].content.decode()  # the flash message too
    [email] = mail.outbox
    appeal = Appeal.objects.get()
    assert email.subject == f"異議申し立てを受け付けました (A-{appeal.pk:06d})"
    assert not english_left(email.body, data=data)


def test_the_magic_link_speaks_the_accounts_language_else_the_browsers(writer):
    assert deliver_magic_link(handle=writer.handle, email=writer.email, language="es")
    writer.language = "ja"
    writer.save(update_fields=["language"])
    assert deliver_magic_link(handle=writer.handle, email=writer.email, language="es")
    writer.language = ""
    writer.save(update_fields=["language"])
    assert deliver_magic_link(handle=writer.handle, email=writer.email)
    spanish, japanese, english = mail.outbox
    assert spanish.subject == "Tu enlace para apelar una decisión" and "Ábrelo en un plazo de 24 horas" in spanish.body
    assert japanese.subject == "決定に異議を申し立てるためのリンク" and "24時間以内に開いてください" in japanese.body
    assert english.subject == "Your link to appeal a decision"


def test_a_browser_language_on_the_start_page_reaches_the_email(client, writer, run_on_commit):
    with run_on_commit():
        client.post("/appeal/", {"handle": writer.handle, "email": writer.email}, HTTP_ACCEPT_LANGUAGE="es")
    [email] = mail.outbox
    assert email.subject == "Tu enlace para apelar una decisión"
