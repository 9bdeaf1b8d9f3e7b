"""Names folded for search: "João", "JOAO" and "joao" are one key, and so are "Ёлкин" and "елкин".

A contact's folded name is stored (``Contact.search_name``) and a search query is folded
the same way, so both databases compare plain lower-case text with LIKE and PostgreSQL can
keep a trigram index on the key. Neither database can fold like this by itself: SQLite's
lower() knows only ASCII, and PostgreSQL's unaccent() is an extension, not immutable, and
folds differently from Python.
"""

from __future__ import annotations

import unicodedata

SEARCH_NAME_LENGTH = 400

# Letters with no decomposition that people still write without their stroke or ligature.
_PLAIN = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t", "ı": "i",
                        "æ": "ae", "œ": "oe", "þ": "th"})
_CYRILLIC = range(0x0400, 0x0530)
_BREVE = "\u0306"


def _strips_marks(base: str, mark: str) -> bool:
    """Accents come off Latin, Greek and Cyrillic letters (é → e, ё → е, ș/ş → s), but not
    й (и with a breve, a letter of its own in Russian) nor the marks of other scripts, where
    they make another letter (Japanese が is not か)."""
    if not base:
        return True
    code = ord(base)
    if code in _CYRILLIC:
        return mark != _BREVE
    return code < 0x0400 or 0x1E00 <= code <= 0x1FFF


def fold(text: str) -> str:
    """``text`` without case, accents or compatibility forms, its spaces collapsed to one."""
    kept: list[str] = []
    base = ""
    for char in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(char):
            if not _strips_marks(base, char):
                kept.append(char)
            continue
        base = char
        kept.append(char)
    folded = unicodedata.normalize("NFC", "".join(kept)).casefold().translate(_PLAIN)
    return " ".join(folded.split())


def name_key(first_name: str | None, last_name: str | None) -> str:
    """The stored search key of a person called ``first_name last_name``."""
    return fold(f"{first_name or ''} {last_name or ''}")[:SEARCH_NAME_LENGTH]
