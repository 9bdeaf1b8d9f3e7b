"""The allow-list sanitiser for received HTML."""

from __future__ import annotations

import pytest

from crm.email.sanitise import html_to_text, safe_href, sanitise_html


@pytest.mark.parametrize(("dirty", "clean"), [
    ("<p>Hi <b>there</b></p>", "<p>Hi <b>there</b></p>"),
    ("<script>alert(1)</script><p>ok</p>", "<p>ok</p>"),
    ("<style>p{color:red}</style>text", "text"),
    ('<p onclick="x()" style="color:red" class="c">p</p>', "<p>p</p>"),
    ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="java\tscript:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="JaVaScRiPt:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "<a>x</a>"),
    ('<a href="mailto:a@b.example">m</a>',
     '<a href="mailto:a@b.example" rel="nofollow noopener noreferrer" target="_blank">m</a>'),
    ('<img src="https://t.example/p.gif" onerror="x()">after', "after"),
    ("<iframe src=x>inside</iframe>after", "after"),
    ("<svg><script>x</script><text>t</text></svg>after", "after"),
    ("<b><i>unclosed", "<b><i>unclosed</i></b>"),
    ("</div>stray close", "stray close"),
    ("<p>a<br/>b<hr>c</p>", "<p>a<br>b<hr>c</p>"),
    ("1 &lt; 2 &amp; <b>3 &gt; 2</b>", "1 &lt; 2 &amp; <b>3 &gt; 2</b>"),
    ('<a href="https://x.example/?a=1&amp;b=&quot;2&quot;">q</a>',
     '<a href="https://x.example/?a=1&amp;b=&quot;2&quot;" rel="nofollow noopener noreferrer" target="_blank">q</a>'),
    ("<form action=x><input name=y>text</form>", "text"),
    ("<!-- comment --><p>c</p>", "<p>c</p>"),
    ("<table><tr><td>cell</td></tr></table>", "<table><tr><td>cell</td></tr></table>"),
])
def test_only_formatting_and_safe_links_survive(dirty, clean):
    assert sanitise_html(dirty) == clean


def test_deep_nesting_is_bounded():
    out = sanitise_html("<div>" * 500 + "deep")
    assert out.count("<div>") == 100 and out.count("</div>") == 100


def test_safe_href():
    assert safe_href("https://example.pt") == "https://example.pt"
    assert safe_href(" vbscript:x") is None and safe_href("") is None and safe_href("/relative") is None


def test_html_to_text_keeps_lines_and_drops_scripts():
    assert html_to_text("<p>One</p><script>x()</script><div>Two&nbsp;&amp; three</div><br>Four") == "One\nTwo & three\nFour"
