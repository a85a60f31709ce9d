"""sanitize_html keeps Mastodon's allowlist and nothing else; html_to_text reads like a post."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from html.parser import HTMLParser

import pytest

from fediverse_ai import sanitize
from fediverse_ai.sanitize import ALLOWED_PROTOCOLS, ALLOWED_TAGS, html_to_text, sanitize_html

ALLOWED_ATTRS = {
    "a": {"href", "rel", "class", "translate", "target"},
    "span": {"class", "translate"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
CLASS_OK = re.compile(r"^((h|p|u|dt|e)-.+|mention|hashtag|ellipsis|invisible|quote-inline)$")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def assert_safe(output: str) -> None:
    """The property every output must have, whatever the input was."""
    collector = _Collector()
    collector.feed(output)
    collector.close()
    for tag, attrs in collector.tags:
        assert tag in ALLOWED_TAGS, (tag, output)
        assert set(attrs) <= ALLOWED_ATTRS.get(tag, set()), (tag, attrs, output)
        for token in (attrs.get("class") or "").split():
            assert CLASS_OK.match(token), (token, output)
        if tag == "a":
            href = attrs["href"] or ""
            scheme = href.split(":", 1)[0].lower()
            assert scheme in ALLOWED_PROTOCOLS, (href, output)
            assert attrs["rel"] is not None
            assert {"nofollow", "noopener", "noreferrer"} <= set(attrs["rel"].split())
            assert attrs["target"] == "_blank"
    lowered = unescape(output).lower()
    assert "<script" not in lowered
    assert "javascript:" not in lowered.replace(" ", "")


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<p onclick="alert(1)" style="color:red">hi</p>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="jav&#x09;ascript:alert(1)">click</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    "<svg><script>alert(1)</script></svg>",
    "<svg onload=alert(1)><circle r=10 /></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">',
    "<math><mi><mglyph><style><img src=x onerror=alert(1)></style></mglyph></mi></math>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<iframe src="https://evil.example/"></iframe>',
    '<object data="https://evil.example/x.swf"><embed src="x.swf"></object>',
    '<template><img src=x onerror="alert(1)"></template>',
    '<style>body{background:url("javascript:alert(1)")}</style>',
    '<span style="background:url(javascript:alert(1))">x</span>',
    '<form action="https://evil.example"><input name=q><button>go</button></form>',
    "<p><b><i><u><s>deep <script>alert(1)</script>nest</s></u></i></b></p>",
    "<<script>script>alert(1)<</script>/script>",
    '<a href="https://ok.example/" onmouseover="alert(1)">ok</a>',
    '<base href="javascript:alert(1)//"><a href="/x">x</a>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<!-- <script>alert(1)</script> -->text",
    '<div><p>unclosed <a href="https://x.example/">link',
    '<a href="https://x.example/"><a href="javascript:alert(1)">nested</a></a>',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<video><source onerror="alert(1)"></video>',
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payloads_come_out_safe_and_idempotent(payload: str) -> None:
    output = sanitize_html(payload)
    assert_safe(output)
    assert sanitize_html(output) == output


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("<script>alert(1)</script>after", "after"),
        ("<style>p{color:red}</style>after", "after"),
        ('<iframe src="https://e.example/">inside</iframe>after', "after"),
        ("<object>fallback text</object>after", "after"),
        ("<template><p>hidden</p></template>after", "after"),
        ("<svg><script>alert(1)</script><style>x</style></svg>after", "after"),
        ('<img src="https://e.example/a.png" onerror="alert(1)">after', "after"),
    ],
)
def test_dangerous_elements_are_removed_with_their_content(payload: str, expected: str) -> None:
    assert sanitize_html(payload) == expected


def test_other_tags_are_stripped_but_their_text_kept() -> None:
    assert sanitize_html("<p>body <font>text</font> <blink>on</blink></p>") == "<p>body text on</p>"


# --- structure (issue 19): blocks become paragraphs and breaks, media its text -------------

STRUCTURE = [
    ("<h1>a</h1><h2>b</h2>", "<p><strong>a</strong></p><p><strong>b</strong></p>"),
    (
        "<h1>Title</h1><div>body <font>text</font></div>",
        "<p><strong>Title</strong></p><p>body text</p>",
    ),
    (
        "<table><caption>Prices</caption><thead><tr><th>x</th><th>y</th></tr></thead>"
        "<tbody><tr><td>1</td><td><p>2</p></td></tr></tbody></table>",
        "<p><strong>Prices</strong><br>x | y<br>1 | 2</p>",
    ),
    (
        "<dl><dt>term</dt><dd>its meaning</dd></dl>",
        "<p><strong>term</strong></p><p>its meaning</p>",
    ),
    (
        "<details><summary>more</summary><p>inside</p></details>",
        "<p><strong>more</strong></p><p>inside</p>",
    ),
    ("<div>a<p>b</p>c</div>", "<p>a</p><p>b</p><p>c</p>"),
    ("<section><div>one</div><div>two</div></section>", "<p>one</p><p>two</p>"),
    ("<ul><li><div>a</div><div>b</div></li></ul>", "<ul><li><p>a</p><p>b</p></li></ul>"),
    (
        "<blockquote><div>q1</div><div>q2</div></blockquote>",
        "<blockquote><p>q1</p><p>q2</p></blockquote>",
    ),
    ("<strong><ul><li>x</li><li>y</li></ul></strong>", "<strong>x<br>y</strong>"),
    (
        "H<sub>2</sub>O, x<sup>2</sup>, <small>s</small> <mark>m</mark> <ins>i</ins>",
        "H<sub>2</sub>O, x<sup>2</sup>, <small>s</small> <mark>m</mark> <ins>i</ins>",
    ),
    ('<p>see <img src="https://x.example/cat.png" alt="a cat"> here</p>', "<p>see a cat here</p>"),
    (
        '<figure><img src="https://x.example/a.jpg" alt="the bay"><figcaption>At dawn'
        "</figcaption></figure>",
        "<p>the bay</p><p>At dawn</p>",
    ),
    (
        '<video src="https://x.example/v.mp4" controls autoplay><source src="https://x.example/v.webm">'
        '<track src="https://x.example/v.vtt">Your browser cannot play this video.</video>',
        "<p>Your browser cannot play this video.</p>",
    ),
    (
        '<audio src="https://x.example/a.mp3">Listen <a href="https://x.example/a.mp3">here</a></audio>',
        '<p>Listen <a href="https://x.example/a.mp3" rel="nofollow noopener noreferrer"'
        ' target="_blank">here</a></p>',
    ),
    ("<p>one</p><hr><p>two</p>", "<p>one</p><p>two</p>"),
]


@pytest.mark.parametrize(("html", "expected"), STRUCTURE)
def test_block_structure_becomes_paragraphs_and_media_their_text(html: str, expected: str) -> None:
    out = sanitize_html(html)
    assert out == expected
    assert_safe(out)
    assert sanitize_html(out) == out  # idempotent


def test_hostile_depth_is_fast_and_safe() -> None:
    import time

    for html in (
        "<div>" * 20_000 + "x",
        "<div></td>" * 1_500 + "x",  # end tags the parser ignores do not hide the depth
        "<section><h1>" * 1_000 + "deep",
        "<table><tr><td>" * 600 + "cell",
    ):
        started = time.monotonic()
        out = sanitize_html(html)
        assert time.monotonic() - started < 5.0
        assert_safe(out)
        assert sanitize_html(out) == out


def test_style_attributes_and_event_handlers_are_dropped() -> None:
    out = sanitize_html('<p style="color:red" onclick="x()" id="i" title="t">hi</p>')
    assert out == "<p>hi</p>"


@pytest.mark.parametrize(
    "payload",
    [
        '<a href="jav&#x09;ascript:alert(1)">click</a>',
        '<a href="javascript:alert(1)">click</a>',
        '<a href="data:text/html,hi">click</a>',
        '<a href="/relative/path">click</a>',
        '<a href="//evil.example/">click</a>',
        '<a href="mailto:a@b.example">click</a>',
        "<a>click</a>",
    ],
)
def test_links_without_an_allowed_absolute_href_are_unwrapped(payload: str) -> None:
    assert sanitize_html(payload) == "click"


@pytest.mark.parametrize(
    "href",
    [
        "https://example.org/",
        "http://example.org/",
        "gemini://example.org/",
        "magnet:?xt=urn:btih:abc",
        "xmpp:alice@example.org",
        "ipfs://bafy",
    ],
)
def test_allowed_protocols_are_kept_and_links_hardened(href: str) -> None:
    out = sanitize_html(f'<a href="{href}">x</a>')
    assert out == f'<a href="{href}" rel="nofollow noopener noreferrer" target="_blank">x</a>'


def test_rel_is_forced_but_tag_survives_and_target_is_overridden() -> None:
    out = sanitize_html(
        '<a href="https://e.example/tags/x" rel="tag me opener" target="_self"'
        ' class="mention hashtag">#x</a>'
    )
    assert out == (
        '<a href="https://e.example/tags/x" rel="tag nofollow noopener noreferrer"'
        ' class="mention hashtag" target="_blank">#x</a>'
    )


def test_only_microformat_and_mastodon_classes_survive() -> None:
    out = sanitize_html(
        '<span class="h-card evil p-name  quote-inline btn-danger">x</span>'
        '<a href="https://e.example/" class="u-url mention dt-published e-content hashtag x">y</a>'
        '<span class="invisible">https://</span><span class="ellipsis">e</span>'
    )
    assert 'class="h-card p-name quote-inline"' in out
    assert 'class="u-url mention dt-published e-content hashtag"' in out
    assert 'class="invisible"' in out
    assert 'class="ellipsis"' in out
    assert "evil" not in out
    assert "btn-danger" not in out


def test_allowed_structure_and_attributes_are_kept() -> None:
    html = (
        "<p>a<br>b</p><blockquote><pre><code>x &lt; y</code></pre></blockquote>"
        '<ol start="3" reversed=""><li value="5"><del>d</del><s>s</s><u>u</u></li></ol>'
        "<ul><li><b>b</b><strong>s</strong><i>i</i><em>e</em></li></ul>"
        "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>"
        '<span translate="no">name</span>'
    )
    assert sanitize_html(html) == html


def test_mastodon_post_html_survives_unchanged() -> None:
    html = (
        '<p><span class="h-card" translate="no"><a href="https://mastodon.example/@alice"'
        ' class="u-url mention" rel="nofollow noopener noreferrer" target="_blank">@<span>'
        "alice</span></a></span> look: "
        '<a href="https://example.org/a/very/long/path/indeed?x=1&amp;y=2"'
        ' rel="nofollow noopener noreferrer" translate="no" target="_blank">'
        '<span class="invisible">https://</span><span class="ellipsis">example.org/a/very/'
        'long/path/in</span><span class="invisible">deed?x=1&amp;y=2</span></a> '
        '<a href="https://mastodon.example/tags/cats" class="mention hashtag"'
        ' rel="tag nofollow noopener noreferrer" target="_blank">#<span>cats</span></a></p>'
    )
    assert sanitize_html(html) == html


def test_comments_are_removed_and_text_is_escaped() -> None:
    assert sanitize_html("a<!-- secret -->b") == "ab"
    assert sanitize_html("1 &lt; 2 &amp; 3 > 0") == "1 &lt; 2 &amp; 3 &gt; 0"


def test_empty_input() -> None:
    assert sanitize_html("") == ""


def test_cleaner_is_built_lazily_once_per_thread() -> None:
    seen: dict[str, object] = {}

    def work() -> None:
        seen["before"] = getattr(sanitize._local, "cleaner", None)
        sanitize_html("<p>x</p>")
        first = sanitize._local.cleaner
        sanitize_html("<p>y</p>")
        seen["same"] = first is sanitize._local.cleaner

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == {"before": None, "same": True}


def test_concurrent_use_from_threads_is_consistent() -> None:
    html = '<p>hi <a href="https://e.example/" onclick="x">there</a><script>x</script></p>'
    expected = sanitize_html(html)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(sanitize_html, [html] * 200))
    assert set(results) == {expected}


# --- html_to_text ---------------------------------------------------------------------


def test_html_to_text_paragraphs_breaks_and_entities() -> None:
    html = "<p>Hello   <b>world</b> &amp; co&#33;</p>\n<p>line<br>two<br/>three</p>"
    assert html_to_text(html) == "Hello world & co!\n\nline\ntwo\nthree"


def test_html_to_text_reads_shortened_links_as_full_urls() -> None:
    html = (
        '<p><a href="https://example.org/path"><span class="invisible">https://</span>'
        '<span class="">example.org/path</span><span class="invisible"></span></a> and '
        '<span class="h-card"><a href="https://e.example/@al" class="u-url mention">'
        "@<span>al</span></a></span></p>"
    )
    assert html_to_text(html) == "https://example.org/path and @al"


def test_html_to_text_drops_scripts_and_keeps_lists_and_pre() -> None:
    html = (
        "<script>evil()</script><style>p{}</style>"
        "<ul><li>a</li><li>b</li></ul><pre>  x\n    y</pre>"
    )
    assert html_to_text(html) == "a\nb\n\n  x\n    y"


def test_html_to_text_plain_and_empty() -> None:
    assert html_to_text("") == ""
    assert html_to_text("just text") == "just text"
    assert html_to_text("&lt;b&gt;not a tag&lt;/b&gt;") == "<b>not a tag</b>"


def test_html_to_text_keeps_structure_alt_text_and_cells() -> None:
    html = (
        "<h1>a</h1><h2>b</h2><table><tr><th>x</th><th>y</th></tr><tr><td>1</td><td>2</td></tr>"
        '</table><p>see <img src="https://x.example/c.png" alt="a  cat"> here</p>'
        "<dl><dt>t</dt><dd>d</dd></dl>"
    )
    assert html_to_text(html) == "a\n\nb\n\nx | y\n\n1 | 2\n\nsee a cat here\n\nt\n\nd"
