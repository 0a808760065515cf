"""`make run`: links follow the port served, and the demo's mail (a writer's magic link)
is readable on a staff page in DEBUG only."""

import os
import subprocess
import sys

import pytest
from django.core.mail import send_mail
from django.test import override_settings

from moderation.demo_mail import saved_mail
from tests.factories import moderator

pytestmark = pytest.mark.django_db

BACKEND = "moderation.demo_mail.SavedMailBackend"


def _site_url(**env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "PORT", "SITE_HOST")}
    code = "import moderation.settings as s; print(s.SITE_URL)"
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, "DEBUG": "1", **env}, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_site_url_follows_the_port_make_run_serves_unless_set():
    assert _site_url(PORT="8123", SITE_HOST="127.0.0.1") == "http://127.0.0.1:8123"
    assert _site_url() == "http://localhost:8000"
    assert _site_url(PORT="8123", SITE_URL="https://appeals.example/") == "https://appeals.example"


def test_make_run_tells_where_the_magic_link_is():
    with open("Makefile") as makefile:
        text = makefile.read()
    assert "export PORT" in text and "export SITE_HOST" in text
    assert "/admin/demo/mail/" in text


@pytest.fixture
def mailbox(tmp_path, settings):
    settings.EMAIL_BACKEND = BACKEND
    settings.DEMO_MAIL_DIR = tmp_path / "demo-mail"
    return settings.DEMO_MAIL_DIR


def test_saved_mail_backend_keeps_each_message_for_the_page(mailbox, capsys):
    send_mail("Your link to appeal", "Open http://127.0.0.1:8123/appeal/start/abc/ to appeal.", None, ["ada@ex.com"])
    send_mail("Decision on your story", "We reviewed your story.", None, ["grace@ex.com"])
    assert len(list(mailbox.glob("*.eml"))) == 2
    assert "Your link to appeal" in capsys.readouterr().out, "still printed on the console"
    newest, oldest = saved_mail()
    assert newest.subject == "Decision on your story" and oldest.to == "ada@ex.com"
    assert [m.subject for m in saved_mail(to="ADA@")] == ["Your link to appeal"]


def test_demo_mail_page_is_for_staff_in_debug_only(client, mailbox):
    send_mail("Your link to appeal", "Open http://127.0.0.1:8123/appeal/start/abc/ to appeal.", None, ["ada@ex.com"])
    with override_settings(DEBUG=True):
        anonymous = client.get("/admin/demo/mail/")
        assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
        client.force_login(moderator())
        page = client.get("/admin/demo/mail/")
        html = page.content.decode()
        assert page.status_code == 200 and "Your link to appeal" in html
        assert '<a href="http://127.0.0.1:8123/appeal/start/abc/"' in html
        assert client.get("/admin/demo/mail/?to=nobody@").content.decode().count("demo-mail-body") == 0
        assert client.post("/admin/demo/mail/").status_code == 405
    assert client.get("/admin/demo/mail/").status_code == 404, "never outside DEBUG"


def test_production_default_is_not_the_saving_backend():
    code = "import moderation.settings as s; print(s.EMAIL_BACKEND)"
    env = {k: v for k, v in os.environ.items() if k != "EMAIL_BACKEND"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DEBUG": "0", "SECRET_KEY": "x" * 50},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "django.core.mail.backends.console.EmailBackend"
