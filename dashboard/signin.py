"""The sign-in page a browser without a session gets: paste a token (zh/en), no Dash.

It is plain HTML with its own small style sheet, so it renders before (and without) the
Dash app's scripts, and it posts an ordinary form to ``/signin``.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from markupsafe import escape

from dashboard.i18n import Lang, text

__all__ = ["SIGNIN_PATH", "render_signin", "safe_next"]

SIGNIN_PATH = "/signin"

_STYLE = """
body{margin:0;font-family:system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",
"Microsoft YaHei",sans-serif;background:#f4f5f7;color:#1d2129}
main{max-width:26rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:12px;
box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:0 0 .25rem}p{line-height:1.5}label{display:block;margin:1rem 0 .4rem}
input{box-sizing:border-box;width:100%;padding:.6rem;font:inherit;border:1px solid #c9cdd4;
border-radius:6px}button{margin-top:1rem;padding:.6rem 1.4rem;font:inherit;border:0;
border-radius:6px;background:#1664ff;color:#fff;cursor:pointer}
.error{color:#c9353f}.lang{float:right;font-size:.9rem}
"""


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.path == SIGNIN_PATH:
        return "/"
    return target


def render_signin(lang: Lang, *, next_path: str, hours: float, error: str | None = None) -> str:
    """The whole sign-in page."""
    other: Lang = "zh" if lang == "en" else "en"
    switch = SIGNIN_PATH + "?" + urlencode({"lang": other, "next": next_path})
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    lead = text("signin.lead", lang).format(hours=f"{hours:g}")
    return (
        f'<!doctype html><html lang="{"en" if lang == "en" else "zh-CN"}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(text('signin.title', lang))} · livetally</title>"
        f"<style>{_STYLE}</style></head><body><main>"
        f'<a class="lang" href="{escape(switch)}">{escape(text("signin.other_lang", lang))}</a>'
        f"<h1>{escape(text('app.title', lang))}</h1><p>{escape(lead)}</p>{message}"
        f'<form method="post" action="{SIGNIN_PATH}">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        f'<input type="hidden" name="lang" value="{lang}">'
        f'<label for="token">{escape(text("signin.token", lang))}</label>'
        '<input id="token" name="token" type="password" autocomplete="off" required '
        'maxlength="200" autofocus>'
        f'<button type="submit">{escape(text("signin.submit", lang))}</button>'
        "</form></main></body></html>"
    )
