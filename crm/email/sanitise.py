"""An allow-list HTML sanitiser for email we receive, on the standard library's html.parser.

Only plain formatting tags survive; links keep an http(s) or mailto ``href`` and
nothing else; scripts, styles, images (tracking pixels), forms and every other
attribute are dropped. Text is always re-escaped, so the output is safe to show
inside our pages. Unbalanced input is balanced: every tag we open we close.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

ALLOWED_TAGS = frozenset({
    "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li",
    "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul",
})
VOID_TAGS = frozenset({"br", "hr"})
# Their content is not text for a reader: dropped with the tag.
DROP_WITH_CONTENT = frozenset({"script", "style", "head", "title", "template", "noscript", "iframe", "object",
                               "svg", "math", "textarea", "select"})
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
MAX_DEPTH = 100


def safe_href(value: str | None) -> str | None:
    if not value:
        return None
    value = "".join(ch for ch in value.strip() if ch >= " ")  # control characters hide schemes ("java\tscript:")
    scheme = urlsplit(value).scheme.lower()
    return value if scheme in SAFE_SCHEMES else None


class _Sanitiser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if self.dropping:
            if tag in DROP_WITH_CONTENT:
                self.dropping.append(tag)
            return
        if tag in DROP_WITH_CONTENT:
            self.dropping.append(tag)
            return
        if tag not in ALLOWED_TAGS:
            return
        if tag in VOID_TAGS:
            self.out.append(f"<{tag}>")
            return
        if len(self.open) >= MAX_DEPTH:
            return
        rendered = tag
        if tag == "a":
            href = safe_href(dict(attrs).get("href"))
            if href:
                rendered += f' href="{escape(href, quote=True)}" rel="nofollow noopener noreferrer" target="_blank"'
        self.out.append(f"<{rendered}>")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in VOID_TAGS and not self.dropping:
            self.out.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if self.dropping:
            if tag == self.dropping[-1]:
                self.dropping.pop()
            return
        if tag not in self.open:
            return
        while self.open:  # close whatever was left open inside it
            inner = self.open.pop()
            self.out.append(f"</{inner}>")
            if inner == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(escape(data, quote=False))

    def close(self) -> None:
        super().close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")


def sanitise_html(html: str) -> str:
    """Safe HTML keeping only formatting and http(s)/mailto links."""
    parser = _Sanitiser()
    parser.feed(html or "")
    parser.close()
    return "".join(parser.out).strip()


class _TextOnly(HTMLParser):
    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag, attrs):
        if tag in DROP_WITH_CONTENT:
            self.dropping += 1
        elif tag in self.BREAKS and not self.dropping:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in DROP_WITH_CONTENT and self.dropping:
            self.dropping -= 1

    def handle_data(self, data):
        if not self.dropping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML body (for a message that came without a text part)."""
    parser = _TextOnly()
    parser.feed(html or "")
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)
