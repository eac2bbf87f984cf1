"""The English catalogue covers every message of the pages, and the committed compiled catalogue
is the one the .po file compiles to (so nobody needs a build step)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from webapp.pages.render import Formatter

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "webapp" / "i18n"
METHODS = [
    ("webapp/pages/**.py", "python"),
    ("webapp/templates/**.html", "jinja2"),
]
OPTIONS = {
    "webapp/templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "true",
        "lstrip_blocks": "true",
    }
}


def source_messages() -> set[str]:
    keywords = {"_": None, "gettext": None, "N_": None}
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT, METHODS, OPTIONS, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_an_english_translation() -> None:
    messages = source_messages()
    assert len(messages) > 100  # the extraction found the templates
    with (I18N / "en" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        po = read_po(fh)
    translated = {m.id: m.string for m in po if m.id and m.string and not m.fuzzy}
    missing = sorted(m for m in messages if m not in translated)
    assert missing == [], "add these to webapp/i18n/en/LC_MESSAGES/messages.po"


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with (I18N / "en" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        po = {m.id: m.string for m in read_po(fh) if m.id}
    with (I18N / "en" / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        mo = {m.id: m.string for m in read_mo(fh) if m.id}
    assert mo == po, "run: pybabel compile -d webapp/i18n -D messages"


def test_money_dates_and_numbers_follow_the_locale() -> None:
    zh, en = Formatter("zh-CN"), Formatter("en")
    assert zh.money(123_456_789) == "¥1,234,567.89"
    assert en.money(123_456_789) == "CN¥1,234,567.89"
    assert zh.wan(3_260_000_000) == "3,260万元"
    assert en.wan(3_260_000_000) == "32.6 million yuan"
    instant = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    assert zh.when(instant) == "2026-12-01 09:30"  # China time
    assert "2026" in en.when_long(instant) and "Dec" in en.when_long(instant)
    assert en.number(1234567) == "1,234,567"
