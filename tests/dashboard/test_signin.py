"""The sign-in page: where it sends a browser afterwards, its languages, and escaping."""

from __future__ import annotations

import re

import pytest

from dashboard.signin import SIGNIN_PATH, render_signin, safe_next


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:x",
        "",
        None,
        "screen",
        SIGNIN_PATH,
    ],
)
def test_sign_in_never_redirects_off_site(target):
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/", "/screen?kiosk=1", "/exports#top", "/signin-help"])
def test_a_path_on_this_site_is_kept_with_its_query(target):
    assert safe_next(target) == target


def _value(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match is not None
    return match.group(1)


def test_the_page_posts_the_token_with_where_to_go_and_the_language():
    page = render_signin("en", next_path="/screen?kiosk=1", hours=12)
    assert f'<form method="post" action="{SIGNIN_PATH}">' in page
    assert _value(page, "next") == "/screen?kiosk=1"
    assert _value(page, "lang") == "en"
    assert 'name="token" type="password"' in page and "required" in page
    assert "You stay signed in for 12 hours." in page
    assert '<html lang="en">' in page and "<title>Sign in · livetally</title>" in page


def test_the_chinese_page_links_to_the_english_one_for_the_same_target():
    page = render_signin("zh", next_path="/exports", hours=1.5)
    assert '<html lang="zh-CN">' in page and "访问令牌" in page
    assert "会话保持 1.5 小时" in page
    assert '<a class="lang" href="/signin?lang=en&amp;next=%2Fexports">English</a>' in page


def test_an_error_is_an_alert_and_every_text_is_escaped():
    page = render_signin("en", next_path='/x"><script>', hours=12, error="<b>no</b>")
    assert '<p class="error" role="alert">&lt;b&gt;no&lt;/b&gt;</p>' in page
    assert "<script>" not in page and "<b>" not in page
    assert 'role="alert"' not in render_signin("en", next_path="/", hours=12)
