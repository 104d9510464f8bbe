"""The admin page's callbacks: keys and tokens shown once, viewers refused."""

from __future__ import annotations

import importlib
import time

import flask
import pytest
from dash.exceptions import PreventUpdate


def test_admin_page_callbacks_show_the_key_once_and_refuse_viewers(setup):
    app, store = setup
    admin_page = importlib.import_module("dashboard.pages.admin")
    with app.server.test_request_context("/_dash-update-component"):
        flask.g.livetally_role = "viewer"
        assert admin_page.layout().children.id == "admin-forbidden"
        with pytest.raises(PreventUpdate):
            admin_page.add_partner(1, "p9", "P9", "", "sessions", "30", "en")
        with pytest.raises(PreventUpdate):
            admin_page.admin_lists(1, "en", None)
    with app.server.test_request_context("/_dash-update-component"):
        flask.g.livetally_role = "admin"
        shown = admin_page.add_partner(1, "p9", "平台九", "P9", "sessions", "30", "en")
        key = shown.children[1].children
        assert store.registry().partner_for_key(key).id == "p9"
        tables = admin_page.admin_lists(1, "en", None)
        assert "p9" in repr(tables) and key not in repr(tables)
        error = admin_page.add_partner(2, "p9", "again", "", "sessions", "30", "en")
        assert "already registered" in error.children
        token = admin_page.create_token(1, "admin", "desk", "7d", None, None, "zh")
        secret = token.children[1].children
        now = int(time.time() * 1000)
        made = store.registry().token_for(secret, now)
        assert made is not None and made.role == "admin"
        assert made.expires_at - now == pytest.approx(7 * 86400_000, abs=60_000)
        assert store.registry().token_for(secret, made.expires_at) is None
        refused = admin_page.create_token(2, "viewer", "x", "forever", None, None, "en")
        assert "90s, 30m, 12h or 7d" in repr(refused)
        assert "p9" in admin_page.revoke_partner(1, "p9", "en")
        assert store.registry().partners["p9"].revoked


def test_the_page_rotates_a_key_and_shows_the_new_one_once(setup):
    app, store = setup
    admin_page = importlib.import_module("dashboard.pages.admin")
    with app.server.test_request_context("/_dash-update-component"):
        flask.g.livetally_role = "viewer"
        with pytest.raises(PreventUpdate):
            admin_page.rotate_partner_key(1, "douyin", "en")
    with app.server.test_request_context("/_dash-update-component"):
        flask.g.livetally_role = "admin"
        shown = admin_page.add_partner(1, "p8", "平台八", "P8", "sessions", "30", "en")
        old = shown.children[1].children
        rotated = admin_page.rotate_partner_key(1, "p8", "en")
        new = rotated.children[1].children
        assert "the old key works until" in rotated.children[0].children
        assert store.registry().partner_for_key(old).id == "p8"
        assert store.registry().partner_for_key(new).id == "p8"
        assert "no partner" in repr(admin_page.rotate_partner_key(2, "nope", "zh"))


def test_the_page_adds_lists_and_removes_programme_segments(setup):
    app, store = setup
    admin_page = importlib.import_module("dashboard.pages.admin")
    with app.server.test_request_context("/_dash-update-component"):
        flask.g.livetally_role = "viewer"
        with pytest.raises(PreventUpdate):
            admin_page.add_segment(1, "carnival", "2024-12-21 19:00", "", "开幕式", "", "zh")
        with pytest.raises(PreventUpdate):
            admin_page.programme_lists(1, "carnival", "zh", None)
    with app.server.test_request_context("/_dash-update-component"):
        flask.g.livetally_role = "admin"
        streams, token_streams, chosen, table, choices, _ = admin_page.programme_lists(
            1, None, "en", None
        )
        assert token_streams == streams
        assert chosen == "carnival" and streams[0]["value"] == "carnival"
        assert "No programme yet" in repr(table) and choices == []
        done = admin_page.add_segment(
            1, "carnival", "2024-12-21 19:00", "", "开幕式", "Opening", "en"
        )
        assert done.startswith("Done: ") and done.endswith("· Opening")
        assert admin_page.add_segment(2, "carnival", "2024-12-21 19:30", "", "街舞", "", "en")
        (segment_id,) = [
            s.id for s in store.registry().programme("carnival") if s.title == "开幕式"
        ]
        _, _, _, table, choices, _ = admin_page.programme_lists(2, "carnival", "en", None)
        assert table.id == "admin-segments-table"
        cells = repr(table)
        assert "2024-12-21 19:00:00" in cells and "2024-12-21 19:30:00" in cells
        assert [c["label"] for c in choices] == [f"{segment_id} · Opening", choices[1]["label"]]
        refused = admin_page.add_segment(3, "carnival", "7pm", "", "x", "", "en")
        assert "start" in refused.children and "RFC 3339" in refused.children
        overlap = admin_page.add_segment(4, "carnival", "2024-12-21 19:00", "", "x", "", "en")
        assert "already starts" in overlap.children
        assert "Choose a stream" in repr(admin_page.add_segment(5, None, "x", "", "x", "", "en"))
        assert segment_id in admin_page.remove_segment(1, "carnival", segment_id, "en")
        assert [s.title for s in store.registry().programme("carnival")] == ["街舞"]
        gone = admin_page.remove_segment(2, "carnival", segment_id, "en")
        assert "no segment" in gone.children


def test_the_page_creates_a_public_token_for_the_chosen_stream(setup):
    app, store = setup
    admin_page = importlib.import_module("dashboard.pages.admin")
    with app.server.test_request_context("/_dash-update-component"):
        flask.g.livetally_role = "admin"
        shown = admin_page.create_token(1, "public", "news", "", "carnival", None, "en")
        secret = shown.children[1].children
        made = store.registry().token_for(secret, int(time.time() * 1000))
        assert (made.role, made.streams) == ("public", ("carnival",))
        refused = admin_page.create_token(2, "public", "news", "", None, None, "en")
        assert "required for a public token" in refused.children
        # A stream chosen for a viewer token limits it to that stream.
        viewer = admin_page.create_token(3, "viewer", "wall", "", "carnival", None, "en")
        made = store.registry().token_for(viewer.children[1].children, int(time.time() * 1000))
        assert (made.role, made.streams) == ("viewer", ("carnival",))
        # A choice that does not fit the role is refused, never dropped (which would make
        # an unlimited token of what was meant to be a limited one).
        before = len(store.registry().tokens)
        refused = admin_page.create_token(4, "viewer", "wall", "", None, "p1", "en")
        assert "only for a partner token" in refused.children
        refused = admin_page.create_token(5, "admin", "desk", "", "carnival", None, "en")
        assert "cannot be limited" in refused.children
        assert len(store.registry().tokens) == before
        admin = admin_page.create_token(6, "admin", "desk", "", None, None, "en")
        made = store.registry().token_for(admin.children[1].children, int(time.time() * 1000))
        assert (made.role, made.streams) == ("admin", ())


def test_the_page_creates_a_partner_token_for_the_chosen_partner(setup):
    app, store = setup
    admin_page = importlib.import_module("dashboard.pages.admin")
    with app.server.test_request_context("/_dash-update-component"):
        flask.g.livetally_role = "admin"
        admin_page.add_partner(1, "p7", "平台七", "P7", "sessions", "30", "en")
        shown = admin_page.create_token(1, "partner", "p7 desk", "", None, "p7", "en")
        made = store.registry().token_for(shown.children[1].children, int(time.time() * 1000))
        assert (made.role, made.partner, made.streams) == ("partner", "p7", ())
        assert made.scoped_hash and not made.token_hash
        refused = admin_page.create_token(2, "partner", "x", "", None, None, "en")
        assert "required for a partner token" in refused.children
        unknown = admin_page.create_token(3, "partner", "x", "", None, "nobody", "en")
        assert "no partner with id 'nobody'" in unknown.children
        tables = admin_page.admin_lists(1, "en", None)
        assert "partner p7" in repr(tables[1])
        assert {"label": "p7 · 平台七", "value": "p7"} in tables[3]
