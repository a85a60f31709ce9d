"""Local plain text becomes the HTML Mastodon would have produced, and stays safe."""

from __future__ import annotations

import pytest

from fediverse_ai.content import (
    MentionRef,
    ResolvedMention,
    find_hashtags,
    find_mentions,
    find_urls,
    inert_text,
    render_note_html,
    safe_username,
)
from fediverse_ai.sanitize import sanitize_html

REL = "nofollow noopener noreferrer"
ALICE = ResolvedMention(
    ref=MentionRef("alice", None),
    actor_id="https://local.example/users/alice",
    profile_url="https://local.example/@alice",
    acct="alice@local.example",
)
BOB = ResolvedMention(
    ref=MentionRef("bob", "remote.example"),
    actor_id="https://remote.example/users/bob",
    profile_url="https://remote.example/@bob",
    acct="bob@remote.example",
)


def tag_url(name: str) -> str:
    return f"https://local.example/tags/{name.lower()}"


def render(text: str, *mentions: ResolvedMention) -> str:
    return render_note_html(text, mentions=mentions, tag_url=tag_url)


def mention_html(m: ResolvedMention, username: str) -> str:
    return (
        '<span class="h-card" translate="no">'
        f'<a href="{m.profile_url}" class="u-url mention" rel="{REL}" target="_blank">'
        f"@<span>{username}</span></a></span>"
    )


def hashtag_html(name: str) -> str:
    return (
        f'<a href="{tag_url(name)}" class="mention hashtag" rel="tag {REL}" target="_blank">'
        f"#<span>{name}</span></a>"
    )


# --- find_mentions --------------------------------------------------------------------


def test_find_mentions_local_and_remote_in_order() -> None:
    text = "Hi @bob@remote.example and @alice!"
    assert find_mentions(text) == [MentionRef("bob", "remote.example"), MentionRef("alice", None)]


def test_find_mentions_deduplicates_case_insensitively_keeping_first_spelling() -> None:
    text = "@Alice @alice @ALICE @bob@Remote.Example @bob@remote.example @bob"
    assert find_mentions(text) == [
        MentionRef("Alice", None),
        MentionRef("bob", "Remote.Example"),
        MentionRef("bob", None),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "mail bob@example.org please",
        "x@alice is not a mention",
        "see https://mastodon.example/@alice for more",
        "https://example.org/?user=@alice",
        "path/@alice",
        "über@alice",
    ],
)
def test_not_mentions(text: str) -> None:
    assert find_mentions(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@alice.", MentionRef("alice", None)),
        ("(@alice)", MentionRef("alice", None)),
        ("@alice@example.org.", MentionRef("alice", "example.org")),
        ("@alice@example.org's post", MentionRef("alice", "example.org")),
        ("@first.last-name", MentionRef("first.last-name", None)),
        ("@under_score@sub.domain.example", MentionRef("under_score", "sub.domain.example")),
        ("line\n@alice", MentionRef("alice", None)),
        ("@alice@xn--bcher-kva.example", MentionRef("alice", "xn--bcher-kva.example")),
    ],
)
def test_mention_boundaries(text: str, expected: MentionRef) -> None:
    assert find_mentions(text) == [expected]


# --- find_hashtags --------------------------------------------------------------------


def test_find_hashtags_in_order_deduplicated_case_insensitively() -> None:
    text = "#Python is fun. #python #rust #PYTHON #Rust_lang"
    assert find_hashtags(text) == ["Python", "rust", "Rust_lang"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#日本語 と #café", ["日本語", "café"]),
        ("#123 #2024 #v2 #_1", ["v2"]),
        ("https://example.org/page#section and #real", ["real"]),
        ("foo#bar x=#no (#yes)", ["yes"]),
        ("#end.", ["end"]),
        ("#a1_b2", ["a1_b2"]),
    ],
)
def test_find_hashtags_rules(text: str, expected: list[str]) -> None:
    assert find_hashtags(text) == expected


# --- render_note_html -----------------------------------------------------------------


def test_paragraphs_and_line_breaks() -> None:
    text = "first line\nsecond line\n\n\n  \nnew paragraph\r\nafter crlf\n"
    assert render(text) == "<p>first line<br>second line</p><p>new paragraph<br>after crlf</p>"


def test_empty_text_renders_nothing() -> None:
    assert render("") == ""
    assert render(" \n\n \n") == ""


def test_text_is_escaped_so_the_ai_cannot_inject_markup() -> None:
    text = '<script>alert(1)</script> <a href="javascript:x">y</a> & "q" \'s'
    assert render(text) == (
        '<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;a href="javascript:x"&gt;y&lt;/a&gt;'
        ' &amp; "q" \'s</p>'
    )


def test_short_url_matches_mastodon_shape() -> None:
    assert render("go to https://example.org/path now") == (
        '<p>go to <a href="https://example.org/path" rel="nofollow noopener noreferrer"'
        ' translate="no" target="_blank"><span class="invisible">https://</span>'
        '<span class="">example.org/path</span><span class="invisible"></span></a> now</p>'
    )


def test_long_url_gets_ellipsis_and_hidden_rest() -> None:
    url = "https://www.example.org/a/very/long/path/that/goes/on?x=1&y=2"
    html = render(url)
    assert html == (
        '<p><a href="https://www.example.org/a/very/long/path/that/goes/on?x=1&amp;y=2"'
        f' rel="{REL}" translate="no" target="_blank">'
        '<span class="invisible">https://www.</span>'
        '<span class="ellipsis">example.org/a/very/long/path/t</span>'
        '<span class="invisible">hat/goes/on?x=1&amp;y=2</span></a></p>'
    )


@pytest.mark.parametrize(
    ("text", "url", "after"),
    [
        ("see https://example.org/x.", "https://example.org/x", ".</p>"),
        ("(https://example.org/x)", "https://example.org/x", ")</p>"),
        (
            "https://en.wikipedia.org/wiki/Foo_(bar)!",
            "https://en.wikipedia.org/wiki/Foo_(bar)",
            "!</p>",
        ),
        ('"https://example.org/q?a=b"', "https://example.org/q?a=b", '"</p>'),
    ],
)
def test_url_trailing_punctuation_stays_outside_the_link(text: str, url: str, after: str) -> None:
    html = render(text)
    assert f'<a href="{url.replace("&", "&amp;")}"' in html
    assert html.endswith(f"</span></a>{after}")


def test_url_without_host_is_text() -> None:
    assert render("https:// and http://.") == "<p>https:// and http://.</p>"


def test_resolved_mentions_become_h_cards_and_unresolved_stay_text() -> None:
    html = render("@ALICE hi, cc @bob@remote.example and @carol@nowhere.example", ALICE, BOB)
    assert html == (
        f"<p>{mention_html(ALICE, 'alice')} hi, cc {mention_html(BOB, 'bob')}"
        " and @carol@nowhere.example</p>"
    )


def test_mention_can_match_by_acct() -> None:
    # The local user typed in full: "@alice@local.example" is the same account as "@alice".
    html = render("hello @alice@Local.Example", ALICE)
    assert html == f"<p>hello {mention_html(ALICE, 'alice')}</p>"


def test_bare_mention_does_not_match_a_remote_account() -> None:
    assert render("@bob hi", BOB) == "<p>@bob hi</p>"


def test_hashtags_use_tag_url_and_keep_spelling() -> None:
    seen: list[str] = []

    def recording_tag_url(name: str) -> str:
        seen.append(name)
        return tag_url(name)

    html = render_note_html("#Cats and #123", mentions=[], tag_url=recording_tag_url)
    assert html == f"<p>{hashtag_html('Cats')} and #123</p>"
    assert seen == ["Cats"]


def test_mentions_and_tags_inside_urls_are_left_alone() -> None:
    html = render("https://mastodon.example/@alice#top", ALICE)
    assert "h-card" not in html
    assert "hashtag" not in html
    assert 'href="https://mastodon.example/@alice#top"' in html


def test_control_characters_are_dropped() -> None:
    assert render("a\x00b\x0bc\x1fd") == "<p>abcd</p>"


def test_attribute_values_from_callers_are_escaped() -> None:
    odd = ResolvedMention(
        ref=MentionRef("odd", None),
        actor_id="https://local.example/users/odd",
        profile_url='https://local.example/@odd?a=1&b="<x>"',
        acct="odd@local.example",
    )
    html = render("@odd", odd)
    assert 'href="https://local.example/@odd?a=1&amp;b=&quot;&lt;x&gt;&quot;"' in html


SURVIVAL_TEXTS = [
    "plain",
    "Hi @alice and @bob@remote.example! #Cats #日本語 https://example.org/a/b?c=d&e=f.",
    "para one\nline two\n\npara three with https://www.example.org/a/very/long/path/here/too",
    "<b>not bold</b> & &amp; \"quotes\" 'apos' > <",
    "(https://en.wikipedia.org/wiki/Foo_(bar)) https://x.example/'q' #tag.",
    "@unknown@nowhere.example mail bob@example.org #123",
    "tabs\tand  spaces   kept \u00a0nbsp \u200bzero-width",
]


@pytest.mark.parametrize("text", SURVIVAL_TEXTS)
def test_rendered_html_survives_sanitize_unchanged(text: str) -> None:
    html = render(text, ALICE, BOB)
    assert sanitize_html(html) == html


def test_survival_with_odd_caller_urls() -> None:
    odd = ResolvedMention(
        ref=MentionRef("odd", None),
        actor_id="https://local.example/users/odd",
        profile_url="https://local.example/@odd?a=1&b=\"<x>'",
        acct="odd@local.example",
    )

    def odd_tag_url(name: str) -> str:
        return f"https://local.example/tags/{name}?q=<&>"

    html = render_note_html("@odd #tag", mentions=[odd], tag_url=odd_tag_url)
    assert sanitize_html(html) == html


# --- AI answers: text that mentions nobody, links only what the thread linked ------------


def test_inert_text_leaves_no_mention_and_keeps_the_links_it_is_told_to() -> None:
    kept = "https://ok.example/@alice/1"
    text = f"Ask @bob@victim.example, @alice or me@mail.example; see {kept} or https://x.example/@c"
    inert = inert_text(text, keep_urls={kept})
    assert find_mentions(inert) == []
    assert "\uff20bob\uff20victim.example" in inert and kept in inert
    assert "https://x.example/\uff20c" in inert
    assert inert.replace("\uff20", "@") == text


def test_only_listed_urls_become_links() -> None:
    html = render_note_html(
        "see https://ok.example/a and https://evil.example/b.",
        mentions=[],
        tag_url=tag_url,
        link_urls={"https://ok.example/a"},
    )
    assert 'href="https://ok.example/a"' in html
    assert "https://evil.example/b." in html and 'evil.example/b"' not in html
    assert find_urls("see https://ok.example/a, and (https://b.example/x)") == [
        "https://ok.example/a",
        "https://b.example/x",
    ]


def test_lead_mentions_open_the_first_paragraph() -> None:
    html = render_note_html("hello\n\nworld", mentions=[], tag_url=tag_url, lead=[BOB])
    assert html == f"<p>{mention_html(BOB, 'bob')} hello</p><p>world</p>"
    assert sanitize_html(html) == html
    assert render_note_html("", mentions=[], tag_url=tag_url, lead=[BOB]) == (
        f"<p>{mention_html(BOB, 'bob')}</p>"
    )


@pytest.mark.parametrize(
    ("claimed", "shown"),
    [
        ("alice", "alice"),
        ("Alice.B-c_d", "Alice.B-c_d"),
        ("x @alice @bob@victim.example", "x_alice_bob_victim.example"),
        ("émile", "émile"),
        ("@@", "user"),
        ("a" * 300, "a" * 64),
    ],
)
def test_remote_usernames_are_shown_as_one_inert_word(claimed: str, shown: str) -> None:
    assert safe_username(claimed) == shown
    assert find_mentions(f"@{safe_username(claimed)}@host.example hi")[1:] == []
