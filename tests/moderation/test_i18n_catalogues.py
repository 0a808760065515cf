"""The translations are complete and the writer-facing templates carry no untranslated
text: a string a developer forgets to mark, or marks and forgets to translate, fails
here. Spanish and Japanese ship; English is the source."""

import ast
import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from moderation.models import Language

# No test here reads the database, but the suite's session fixtures need it set up.
pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
SHIPPED = ("es", "ja")
WRITER_TEMPLATES = ROOT / "templates" / "writer"
SOURCES = ("moderation", "cases", "appeals", "supervision", "templates", "manage.py")


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr / msgstr[n], flags."""
    entries, entry, key = [], {}, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if entry:
                entries.append(entry)
            entry, key = {}, None
        elif line.startswith("#,"):
            entry.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return entries


def keyed(entries: list[dict]) -> dict[tuple, dict]:
    return {(e.get("msgctxt"), e["msgid"], e.get("msgid_plural")): e for e in entries if e["msgid"]}


def translations(entry: dict) -> list[str]:
    return [value for key, value in entry.items() if key.startswith("msgstr")]


@pytest.fixture(scope="module")
def fresh_catalogue(tmp_path_factory) -> dict[tuple, dict]:
    """Every string marked for translation in the code today, extracted by Django's
    makemessages into a scratch copy of the project (the real catalogues stay untouched)."""
    if not shutil.which("xgettext"):
        pytest.fail("GNU gettext (xgettext) is needed to check the catalogues: apt-get install gettext")
    scratch = tmp_path_factory.mktemp("messages")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, scratch / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(source, scratch / name)
    (scratch / "locale").mkdir()
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "es", "-e", "html,txt,py", "--no-location"],
        cwd=scratch,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "moderation.settings_test", "HOME": str(scratch)},
        check=True,
        capture_output=True,
    )
    return keyed(read_po(scratch / "locale" / "es" / "LC_MESSAGES" / "django.po"))


def test_the_writer_languages_are_the_languages_django_serves():
    assert [code for code, _ in settings.LANGUAGES] == list(Language.values)
    assert settings.LOCALE_PATHS == [ROOT / "locale"]


@pytest.mark.parametrize("language", SHIPPED)
def test_every_marked_string_is_translated_and_no_translation_is_stale(fresh_catalogue, language):
    shipped = keyed(read_po(ROOT / "locale" / language / "LC_MESSAGES" / "django.po"))
    untranslated = sorted(k[1] for k in fresh_catalogue if k not in shipped or not all(translations(shipped[k])))
    assert not untranslated, f"{language}: run makemessages and translate: {untranslated}"
    stale = sorted(k[1] for k in shipped if k not in fresh_catalogue)
    assert not stale, f"{language}: no longer in the code: {stale}"
    fuzzy = sorted(k[1] for k, e in shipped.items() if "fuzzy" in e.get("flags", ()))
    assert not fuzzy, f"{language}: fuzzy (unchecked) translations: {fuzzy}"


@pytest.mark.parametrize("language", SHIPPED)
def test_the_compiled_catalogue_is_the_source_catalogue(language):
    """The .mo files are committed (no gettext needed to run the app); they must be
    compiled from the .po as it stands: `msgfmt -o django.mo django.po`."""
    folder = ROOT / "locale" / language / "LC_MESSAGES"
    with open(folder / "django.mo", "rb") as compiled:
        mo = gettext.GNUTranslations(compiled)._catalog
    expected = {}
    for entry in read_po(folder / "django.po"):
        msgid = entry["msgid"] if "msgctxt" not in entry else f"{entry['msgctxt']}\x04{entry['msgid']}"
        if "msgid_plural" in entry:
            for key, value in entry.items():
                if key.startswith("msgstr["):
                    expected[(msgid, int(key[7:-1]))] = value
        elif msgid:
            expected[msgid] = entry["msgstr"]
    assert {k: v for k, v in mo.items() if k != ""} == expected


@pytest.mark.parametrize("language", SHIPPED)
def test_placeholders_survive_translation(language):
    shipped = read_po(ROOT / "locale" / language / "LC_MESSAGES" / "django.po")
    pattern = re.compile(r"%\(\w+\)s|\{\w+\}|<[^>]+>")
    for entry in shipped:
        if not entry["msgid"]:
            continue
        wanted = sorted(set(pattern.findall(entry["msgid"] + entry.get("msgid_plural", ""))))
        texts = translations(entry)
        if "msgid_plural" in entry:  # a singular may spell the number out ("a report")
            texts = ["".join(texts)]
        for text in texts:
            assert sorted(set(pattern.findall(text))) == wanted, (language, entry["msgid"], text)


# --- templates: text outside {% translate %} -----------------------------------------

_BLOCKS = re.compile(r"{%\s*blocktrans(?:late)?\b.*?{%\s*endblocktrans(?:late)?\s*%}", re.S)
_COMMENTS = re.compile(r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S)
_TAGS = re.compile(r"{%.*?%}|{{.*?}}", re.S)
_ATTRIBUTES = re.compile(r'\b(?:aria-label|title|alt|placeholder)="([^"]*)"')
_HTML = re.compile(r"<[^>]*>", re.S)
_WORD = re.compile(r"[^\W\d_]{2,}")
NOT_WORDS = {"UTC"}  # the time zone the status page states times in


def untranslated_text(source: str) -> list[str]:
    """Words a writer would read that no translate/blocktranslate tag covers."""
    source = _TAGS.sub(" ", _BLOCKS.sub(" ", _COMMENTS.sub(" ", source)))
    found = [value for value in _ATTRIBUTES.findall(source) if _WORD.search(value)]
    text = _HTML.sub(" ", source)
    found += [word for word in _WORD.findall(text) if word not in NOT_WORDS]
    return found


def test_the_scanner_catches_literal_text_and_passes_marked_text():
    assert untranslated_text("<p>Hello</p>") == ["Hello"]
    assert untranslated_text('<progress aria-label="Progress"></progress>') == ["Progress"]
    assert untranslated_text('<p>{% translate "Hello" %} {{ name }}</p>{# note #}') == []
    assert untranslated_text("{% blocktranslate %}Hi {{ x }}{% endblocktranslate %} UTC") == []


def test_writer_templates_and_emails_mark_every_string_for_translation():
    templates = sorted(p for p in WRITER_TEMPLATES.rglob("*") if p.suffix in {".html", ".txt"})
    assert any(p.parent.name == "email" for p in templates)
    offenders = {
        str(p.relative_to(ROOT)): words for p in templates if (words := untranslated_text(p.read_text("utf-8")))
    }
    assert not offenders, f"wrap these in {{% translate %}}: {offenders}"
