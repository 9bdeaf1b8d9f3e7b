"""The compiled catalogs (.mo, not in git) must match the .po files the tests read."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

CATALOGS = Path(__file__).resolve().parents[2] / "crm" / "translations"


def compile_stale_catalogs() -> None:
    """What `make` does before the tests, for a run started with plain pytest after editing a .po."""
    for po in CATALOGS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=po.parts[-3])
            with mo.open("wb") as fh:
                write_mo(fh, catalog, use_fuzzy=True)


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogs():
    compile_stale_catalogs()
    from crm.i18n import _catalog

    _catalog.cache_clear()
