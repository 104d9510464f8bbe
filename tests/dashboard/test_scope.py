"""Limited tokens: a viewer limited to streams and a partner token read only their part."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contract.alerts import Alert
from contract.metrics import IngestMetrics, PipelineMetrics
from contract.registry import Partner, Registry, Segment, Stream, Token, hash_secret
from dashboard.app import create_app
from dashboard.data import StaticData
from dashboard.exceptions import UnknownStream
from dashboard.model import summarize
from dashboard.monitor import MonitorSnapshot, StatusChange
from dashboard.scope import RequestData, Scope, ScopedData, restrict, restrict_monitor
from tests.dashboard.builders import T0, build, chunk, stats

GALA_VIEWER = "tok_gala_viewer"
CARNIVAL_VIEWER = "tok_carnival_viewer"
DOUYIN = "tok_douyin_partner"
DOUYIN_GALA = "tok_douyin_gala"
EVERYTHING = "tok_everything"


def registry() -> Registry:
    return Registry.of(
        [
            Stream("carnival", "成都第八届社区邻里节", "Asia/Shanghai"),
            Stream("gala", "新年晚会", "Asia/Shanghai"),
            Partner("douyin", "抖音", "Douyin"),
            Partner("bili", "哔哩哔哩", "Bilibili", key_hash=hash_secret("ltk_bili")),
            Partner("quiet", "安静台", "Quiet TV", streams=("carnival",)),
            Segment("opening", "carnival", T0, "开幕"),
            Segment("countdown", "gala", T0, "倒计时"),
            Token("all", "viewer", "wall", hash_secret(EVERYTHING)),
            Token(
                "c",
                "viewer",
                "desk",
                streams=("carnival",),
                scoped_hash=hash_secret(CARNIVAL_VIEWER),
            ),
            Token("g", "viewer", "desk", streams=("gala",), scoped_hash=hash_secret(GALA_VIEWER)),
            Token("d", "partner", "douyin", partner="douyin", scoped_hash=hash_secret(DOUYIN)),
            Token(
                "dg",
                "partner",
                "douyin gala",
                partner="douyin",
                streams=("gala",),
                scoped_hash=hash_secret(DOUYIN_GALA),
            ),
        ]
    )


def snapshot():
    return build(
        [
            chunk("douyin", 0, {T0: (3, 3, 3)}),
            chunk("bili", 1, {T0 + 1: (5, 5, 5)}),
            chunk("bili", 0, {T0: (7, 7, 7)}, stream="gala"),
        ],
        stats=[
            stats("douyin", 0, arrival=T0 * 1000, event=T0 * 1000, events=3),
            stats("bili", 1, arrival=T0 * 1000, event=T0 * 1000, events=5),
            stats("bili", 0, arrival=T0 * 1000, event=T0 * 1000, events=7, stream="gala"),
        ],
        reg=registry(),
    )


def test_a_stream_scope_keeps_its_streams_and_every_partner_in_them():
    full = snapshot()
    limited = restrict(full, Scope(frozenset({"carnival"})))
    assert [s.id for s in limited.streams()] == ["carnival"]
    assert set(limited.platforms) == set(limited.totals) == set(limited.stats) == {"carnival"}
    assert limited.partner_ids("carnival") == ["quiet", "douyin", "bili"]
    assert limited.registry.tokens == {}
    assert [s.id for s in limited.registry.programme("carnival")] == ["opening"]
    assert limited.registry.programme("gala") == ()
    second = T0 + 5
    assert summarize(limited, "carnival", second, 0) == summarize(full, "carnival", second, 0)
    with pytest.raises(UnknownStream):
        limited.stream("gala")
    # Only the partners shown in its streams are in it, and no key hash is.
    assert set(limited.registry.partners) == {"quiet", "douyin", "bili"}
    assert full.registry.partners["bili"].key_hash
    assert all(not p.key_hash for p in limited.registry.partners.values())
    gala = restrict(full, Scope(frozenset({"gala"})))
    assert list(gala.registry.partners) == ["bili"] and gala.partner_ids("gala") == ["bili"]


def test_a_partner_scope_holds_only_its_own_numbers_and_they_are_its_total():
    full = snapshot()
    own = restrict(full, Scope(partner="douyin"))
    # douyin may post anywhere: it sees the registered streams, with only its own data.
    assert {s.id for s in own.streams()} == {"carnival", "gala"}
    assert own.platforms == {"carnival": {"douyin": full.platforms["carnival"]["douyin"]}}
    assert own.totals == {"carnival": full.platforms["carnival"]["douyin"]}
    assert list(own.stats) == ["carnival"] and list(own.stats["carnival"]) == ["douyin"]
    assert list(own.registry.partners) == ["douyin"] and own.registry.tokens == {}
    assert own.partner_ids("carnival") == ["douyin"]
    summary = summarize(own, "carnival", T0 + 5, 0)
    assert [p.id for p in summary.partners] == ["douyin"]
    assert (summary.total.concurrent, summary.total.views) == (3, 3)
    # Limited to a stream as well, it sees that stream only, and nothing of bili's there.
    gala = restrict(full, Scope(frozenset({"gala"}), "douyin"))
    assert [s.id for s in gala.streams()] == ["gala"] and gala.platforms == {}


def test_a_partner_limited_to_streams_sees_those_it_may_post_to():
    own = restrict(snapshot(), Scope(partner="quiet"))
    assert [s.id for s in own.streams()] == ["carnival"]
    assert own.partner_ids("carnival") == ["quiet"] and own.totals == {}


def test_the_monitor_keeps_a_partner_to_its_own_counters_alerts_and_feed():
    full = snapshot()
    alerts = tuple(
        Alert(f"a{i}", T0, T0, stream, platform, "stale", "warning", "停", "stale", None)
        for i, (stream, platform) in enumerate(
            [("carnival", "douyin"), ("carnival", "bili"), ("carnival", None), ("gala", "bili")]
        )
    )
    monitor = MonitorSnapshot(
        pipelines=(PipelineMetrics("w1", T0, (0, 1), {0: 0, 1: 0}, {}, 1.0),),
        ingest=(
            IngestMetrics("i1", "douyin", T0, 3, {"bad_event": 1}),
            IngestMetrics("i1", "bili", T0, 12, {}),
        ),
        alerts=alerts,
        rates={("carnival", "douyin"): 1.0, ("carnival", "bili"): 2.0, ("gala", "bili"): 3.0},
        history=(
            StatusChange("carnival", "douyin", T0, "live", None),
            StatusChange("gala", "bili", T0, "live", None),
        ),
        version=4,
    )
    scope = Scope(partner="douyin")
    own = restrict_monitor(monitor, restrict(full, scope), scope)
    assert own.pipelines == () and not own.pipelines_shown and own.ingest_shown
    assert own.rejected_by_partner() == {"douyin": {"bad_event": 1}}
    assert own.accepted_by_partner() == {"douyin": 3}
    assert [a.id for a in own.alerts] == ["a0"]
    assert own.rates == {("carnival", "douyin"): 1.0}
    assert [c.platform for c in own.history] == ["douyin"]
    scope = Scope(frozenset({"gala"}))
    gala = restrict_monitor(monitor, restrict(full, scope), scope)
    assert [a.id for a in gala.alerts] == ["a3"]
    assert gala.rates == {("gala", "bili"): 3.0}
    # Pipeline figures and a partner's ingest counters cover every stream together, so a
    # token limited to streams is shown neither (bili's 12 accepted events were not all
    # sent to gala).
    assert gala.pipelines == () and not gala.pipelines_shown
    assert gala.ingest == () and not gala.ingest_shown
    # A partner token limited to a stream is not shown its counters over every stream.
    scope = Scope(frozenset({"gala"}), "bili")
    bili = restrict_monitor(monitor, restrict(full, scope), scope)
    assert bili.ingest == () and not bili.ingest_shown and bili.rates == {("gala", "bili"): 3.0}


def test_the_monitor_keeps_the_alerts_of_a_stream_known_only_from_its_stats():
    # "pop" is not registered: a partner posted to it before it was (its stats are known).
    full = build(
        [],
        stats=[stats("bili", 0, arrival=T0 * 1000, event=T0 * 1000, events=2, stream="pop")],
        reg=registry(),
    )
    alerts = (
        Alert("a0", T0, T0, "pop", "bili", "stale", "warning", "停", "stale", None),
        Alert("a1", T0, T0, "gala", "bili", "stale", "warning", "停", "stale", None),
    )
    scope = Scope(frozenset({"pop"}))
    shown = restrict_monitor(MonitorSnapshot(alerts=alerts), restrict(full, scope), scope)
    assert [a.id for a in shown.alerts] == ["a0"]


def test_a_restricted_copy_is_built_once_per_snapshot_and_never_shares_the_full_memo():
    data = StaticData(snapshot())
    view = ScopedData(data, Scope(partner="douyin"))
    first = view.snapshot()
    assert view.snapshot() is first
    assert first.recent is not data.snapshot().recent
    data.set(build([chunk("douyin", 0, {T0: (9, 9, 9)})], reg=registry(), version=2))
    second = view.snapshot()
    assert second is not first and second.version == 2
    assert second.recent is first.recent  # the scope's own memo, carried across snapshots
    assert view.monitor() is view.monitor()


def test_outside_a_request_the_data_is_the_full_source():
    data = StaticData(snapshot())
    assert RequestData(data).current() is data


@pytest.fixture
def client():
    from dashboard.config import DashboardConfig

    app = create_app(
        DashboardConfig(secret_key="test-session-key-0123456789"), data=StaticData(snapshot())
    )
    return app.server.test_client()


def _get(client, path, secret):
    return client.get(path, headers={"Authorization": f"Bearer {secret}"})


def test_a_stream_limited_viewer_reads_its_stream_and_is_refused_the_others(client):
    listed = _get(client, "/api/v1/streams", CARNIVAL_VIEWER).json["streams"]
    assert [s["id"] for s in listed] == ["carnival"]
    assert _get(client, "/api/v1/streams/carnival/summary", CARNIVAL_VIEWER).status_code == 200
    for path in ("summary", "series", "export?format=csv", "report", "alerts", "segments"):
        refused = _get(client, f"/api/v1/streams/gala/{path}", CARNIVAL_VIEWER)
        assert refused.status_code == 403, path
        assert "may not read stream 'gala'" in refused.json["detail"]
    assert _get(client, "/api/v1/streams/nope/summary", CARNIVAL_VIEWER).status_code == 404
    assert _get(client, "/api/v1/streams/gala/summary", EVERYTHING).status_code == 200
    assert _get(client, "/admin", CARNIVAL_VIEWER).status_code == 403


def test_a_partner_token_reads_its_own_numbers_only(client):
    body = _get(client, "/api/v1/streams/carnival/summary", DOUYIN).json
    assert list(body["platforms"]) == ["douyin"]
    assert body["total"]["views"] == body["platforms"]["douyin"]["views"] == 3
    everything = _get(client, "/api/v1/streams/carnival/summary", EVERYTHING).json
    assert everything["total"]["views"] == 8
    csv = _get(client, "/api/v1/streams/carnival/export?format=csv", DOUYIN).get_data(as_text=True)
    assert "douyin" in csv and "bili" not in csv
    report = _get(client, "/api/v1/streams/carnival/report", DOUYIN).get_data(as_text=True)
    assert "抖音" in report and "哔哩哔哩" not in report
    for path in ("/screen", "/admin", "/api/v1/admin/tokens"):
        assert _get(client, path, DOUYIN).status_code == 403, path
    assert _get(client, "/", DOUYIN).status_code == 200
    # The same partner's token limited to the gala: the carnival is refused.
    assert _get(client, "/api/v1/streams/carnival/summary", DOUYIN_GALA).status_code == 403
    gala = _get(client, "/api/v1/streams/gala/summary", DOUYIN_GALA).json
    assert gala["platforms"] == {} and gala["total"]["views"] == 0


def test_a_partner_tokens_link_signs_in_to_its_scope_and_ends_with_its_partner(client):
    link = client.get(f"/?token={DOUYIN}")
    assert link.status_code == 303 and "Set-Cookie" in link.headers
    body = client.get("/api/v1/streams/carnival/summary").json  # by the cookie alone
    assert list(body["platforms"]) == ["douyin"] and body["total"]["views"] == 3
    assert client.get("/screen").status_code == 403
    assert client.get("/api/v1/streams/gala/summary").json["platforms"] == {}
    from dashboard.config import DashboardConfig

    full = registry()
    revoked = Registry.of(
        [
            *full.streams.values(),
            *(replace(p, revoked=p.id == "douyin") for p in full.partners.values()),
            *full.tokens.values(),
        ]
    )
    app = create_app(
        DashboardConfig(secret_key="test-session-key-0123456789"),
        data=StaticData(build([], reg=revoked)),
    )
    refused = _get(app.server.test_client(), "/api/v1/streams/carnival/summary", DOUYIN)
    assert refused.status_code == 403 and "'douyin', which is revoked" in refused.json["detail"]
    assert _get(app.server.test_client(), "/", EVERYTHING).status_code == 200


def _callback(client, secret, output, values):
    """Run the Dash callback that sets ``output`` with these input values, as a browser
    would post it."""
    from tests.dashboard.fuzz import callback_request

    auth = {"Authorization": f"Bearer {secret}"}
    dependencies = client.get("/_dash-dependencies", headers=auth).json
    body = callback_request(dependencies, output, values)
    return client.post("/_dash-update-component", json=body, headers=auth)


def test_the_big_screen_is_refused_to_a_partner_token_in_its_callbacks_too(client):
    # The page content is drawn by a callback on the location, past the server's 403.
    shown = _callback(client, DOUYIN, "_pages_content.children", ["/screen", ""])
    assert shown.status_code == 200
    assert "screen-forbidden" in shown.get_data(as_text=True)
    assert "screen-total-concurrent" not in shown.get_data(as_text=True)
    full = _callback(client, EVERYTHING, "_pages_content.children", ["/screen", ""])
    assert "screen-total-concurrent" in full.get_data(as_text=True)
    # The screen's own interval callbacks answer nothing to it.
    for output in ("screen-title.children", "screen-chart.figure"):
        values = [1, "carnival", "en"]
        assert _callback(client, DOUYIN, output, values).status_code == 204, output
        assert _callback(client, EVERYTHING, output, values).status_code == 200, output
    # Its link is hidden.
    link = _callback(client, DOUYIN, "app-nav-screen.style", ["/"])
    assert link.json["response"]["app-nav-screen"]["style"] == {"display": "none"}
    link = _callback(client, EVERYTHING, "app-nav-screen.style", ["/"])
    assert link.json["response"]["app-nav-screen"]["style"] == {}


def test_pages_read_the_requests_scope(client):
    from dashboard.components import pipeline_table
    from dashboard.data import current_data

    app = client.application
    with app.test_request_context("/_dash-update-component"):
        import flask

        flask.g.livetally_scope = Scope(partner="douyin")
        data = current_data()
        assert list(data.snapshot().registry.partners) == ["douyin"]
        shown = pipeline_table(data.monitor(), "en", T0 * 1000, "Asia/Shanghai")
        assert shown.children == "The pipeline is not shown to limited tokens"
    with app.test_request_context("/_dash-update-component"), pytest.raises(LookupError):
        current_data()  # no token was checked: nothing is read
