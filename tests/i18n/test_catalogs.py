"""Every string a person can see is extracted, and translated in every language we ship.

`make translations` extracts and merges; these tests fail until each new entry has a
real translation (not empty, not fuzzy, the same placeholders, every plural form).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from config import Config

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "crm" / "translations"
SHIPPED = [code for code in Config.LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdif]")
PLURAL_FORMS = {"pt": 2, "ro": 3, "ru": 3}


def _read(path: Path, locale: str | None = None):
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def _entries(catalog) -> dict:
    return {(m.context, m.id): m for m in catalog if m.id}


@pytest.fixture(scope="module")
def template():
    return _read(CATALOGS / "messages.pot")


def test_every_shipped_language_has_a_catalog():
    assert sorted(p.parts[-3] for p in CATALOGS.glob("*/LC_MESSAGES/messages.po")) == sorted(SHIPPED)


@pytest.mark.parametrize("locale", SHIPPED)
def test_catalog_translates_every_msgid_of_the_template(template, locale):
    catalog = _read(CATALOGS / locale / "LC_MESSAGES" / "messages.po", locale)
    entries = _entries(catalog)
    missing, empty, fuzzy = [], [], []
    for key in _entries(template):
        message = entries.get(key)
        if message is None:
            missing.append(key)
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(s.strip() for s in strings):
            empty.append(key)
        if message.fuzzy:
            fuzzy.append(key)
    hint = f"run `make translations`, then translate the entries in crm/translations/{locale}"
    assert not missing, f"{len(missing)} msgids not in the {locale} catalog ({hint}): {missing[:5]}"
    assert not empty, f"{len(empty)} untranslated {locale} entries ({hint}): {empty[:5]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy {locale} entries: check and unmark them: {fuzzy[:5]}"


@pytest.mark.parametrize("locale", SHIPPED)
def test_translations_keep_every_placeholder(locale):
    catalog = _read(CATALOGS / locale / "LC_MESSAGES" / "messages.po", locale)
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wrong += [(ids[0], s) for s in strings if s and set(PLACEHOLDER.findall(s)) != wanted]
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("locale", SHIPPED)
def test_plural_entries_have_every_form_of_the_language(locale):
    catalog = _read(CATALOGS / locale / "LC_MESSAGES" / "messages.po", locale)
    assert catalog.num_plurals == PLURAL_FORMS[locale]
    plurals = [m for m in catalog if m.id and isinstance(m.id, tuple)]
    assert plurals, "the catalog has plural entries to check"
    assert all(len(m.string) == catalog.num_plurals for m in plurals)


def test_template_is_current_with_the_code(tmp_path, template):
    """The committed .pot holds exactly what `make translations` would extract now."""
    makefile = (ROOT / "Makefile").read_text()
    command = next(line for line in makefile.splitlines() if "pybabel -q extract" in line)
    args = shlex.split(command.replace("$(BIN)/pybabel", ""))
    out = tmp_path / "messages.pot"
    args[args.index("-o") + 1] = str(out)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], cwd=ROOT, check=True)
    fresh = set(_entries(_read(out)))
    committed = set(_entries(template))
    new, gone = sorted(fresh - committed, key=str), sorted(committed - fresh, key=str)
    assert not new, f"strings not extracted yet (run `make translations`): {new[:5]}"
    assert not gone, f"strings no longer in the code (run `make translations`): {gone[:5]}"


def test_no_translated_text_hides_inside_an_f_string():
    """pybabel cannot see a _() call inside an f-string (one string token on Python 3.11): it would stay English."""
    import io
    import re
    import tokenize
    from pathlib import Path

    call = re.compile(r"\{[^}]*\b(_|_l|gettext|lazy_gettext)\(")
    hidden = []
    for path in sorted((Path(__file__).resolve().parents[2] / "crm").rglob("*.py")):
        for token in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
            is_f_string = token.type == tokenize.STRING and token.string.lstrip("rbRB").lower().startswith("f")
            if is_f_string and call.search(token.string):
                hidden.append(f"{path.name}:{token.start[0]}")
    assert hidden == []
