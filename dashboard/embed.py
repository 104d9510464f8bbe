"""The embeddable live counter: one self-contained HTML page (a few KB, no Dash, no external
resources) that news sites put in an ``<iframe>``. It shows the stream's concurrent viewers
and views, refreshing from the public counter every two seconds; light or dark, zh or en."""

from __future__ import annotations

import secrets
from html import escape
from typing import Any
from urllib.parse import urlencode

from dashboard.i18n import Lang

__all__ = ["REFRESH_MS", "embed_html"]

REFRESH_MS = 2000
"""How often the widget asks for new numbers (the counter's cache lasts one second)."""

_TEXT: dict[Lang, dict[str, str]] = {
    "zh": {"concurrent": "人正在观看", "views": "观看人次", "live": "直播中"},
    "en": {"concurrent": "watching now", "views": "views", "live": "LIVE"},
}

_CSS = """
html,body{margin:0;background:transparent}
.lt{font-family:"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",system-ui,sans-serif;
display:inline-flex;align-items:baseline;gap:.45em;flex-wrap:wrap;padding:.35em .7em;
border-radius:.5em;font-size:16px;line-height:1.3;color:#1b1f29;background:#fff;
border:1px solid #d8dce5}
.lt.dark{color:#f5f7fb;background:#0b0f19;border-color:#2a3142}
.lt .dot{width:.55em;height:.55em;border-radius:50%;background:#e5484d;align-self:center}
.lt .n{font-weight:700;font-variant-numeric:tabular-nums;font-size:1.25em}
.lt .v{opacity:.7;font-size:.85em}
"""

_SCRIPT = """
(function(){var c=document.getElementById("lt");var url=c.dataset.url;var tag=null;
function show(d){document.getElementById("lt-n").textContent=d.display.concurrent;
document.getElementById("lt-v").textContent=d.display.views;}
function tick(){var h={};if(tag){h["If-None-Match"]=tag;}
fetch(url,{headers:h,cache:"no-store"}).then(function(r){if(r.status===200){
tag=r.headers.get("ETag");return r.json().then(show);}}).catch(function(){});}
setInterval(tick,%d);})();
"""


def embed_html(body: dict[str, Any], *, token: str, lang: Lang, dark: bool) -> tuple[str, str]:
    """The widget page for a counter ``body`` (``public.live_body``), and the nonce of its
    script (for the Content-Security-Policy)."""
    words = _TEXT[lang]
    nonce = secrets.token_urlsafe(16)
    url = f"/api/v1/public/live?{urlencode({'token': token, 'lang': lang})}"
    display = body["display"]
    html_lang = "en" if lang == "en" else "zh-CN"
    title = escape(str(body["title"]))
    page = (
        f'<!DOCTYPE html><html lang="{html_lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        f'<div id="lt" class="lt{" dark" if dark else ""}" data-url="{escape(url, quote=True)}" '
        f'title="{title}" role="status" aria-live="polite">'
        f'<span class="dot" aria-hidden="true"></span><span class="v">{escape(words["live"])}'
        f'</span><span class="n" id="lt-n">{escape(display["concurrent"])}</span>'
        f"<span>{escape(words['concurrent'])}</span>"
        f'<span class="v">· {escape(words["views"])} <span id="lt-v">'
        f"{escape(display['views'])}</span></span></div>"
        f'<script nonce="{nonce}">{_SCRIPT % REFRESH_MS}</script></body></html>'
    )
    return page, nonce
