"""The alert channels the worker's settings name, as the app wires them."""

from __future__ import annotations

from stream.app import alert_duty, alert_sinks
from stream.config import StreamConfig
from tests.stream.conftest import Sent


def config(**env: str) -> StreamConfig:
    return StreamConfig.from_env({"LIVETALLY_HOME": "/nonexistent", **env})


def test_no_channel_without_settings_and_the_duty_then_only_publishes():
    assert alert_sinks(config()) == []
    duty = alert_duty(config(), lambda: None, Sent())  # type: ignore[arg-type, return-value]
    assert duty._new_deliverer is None


def test_each_configured_channel_gets_its_sink_with_its_secret(tmp_path):
    settings = config(
        LIVETALLY_HOME=str(tmp_path),
        LIVETALLY_ALERT_WEBHOOK="https://hook.example/a",
        LIVETALLY_ALERT_WEBHOOK_SECRET="w",
        LIVETALLY_ALERT_WECOM_WEBHOOK="https://wecom.example/send?key=k",
        LIVETALLY_ALERT_DINGTALK_WEBHOOK="https://ding.example/send?access_token=t",
        LIVETALLY_ALERT_DINGTALK_SECRET="SECd",
        LIVETALLY_ALERT_FEISHU_WEBHOOK="https://lark.example/hook/x",
    )
    sinks = alert_sinks(settings)
    assert [s.channel for s in sinks] == ["webhook", "wecom", "dingtalk", "feishu"]
    assert [getattr(s, "_secret", None) for s in sinks] == ["w", None, "SECd", None]
    assert alert_duty(settings, lambda: None, Sent())._new_deliverer is not None  # type: ignore[arg-type, return-value]


async def test_the_deliveries_http_client_is_made_at_first_use_and_closed_with_the_duty(tmp_path):
    settings = config(
        LIVETALLY_HOME=str(tmp_path), LIVETALLY_ALERT_WEBHOOK="https://hook.example/a"
    )
    duty = alert_duty(settings, lambda: None, Sent())  # type: ignore[arg-type, return-value]
    await duty.close()  # before any delivery: nothing to close
    # The deliverer factory is partial(Deliverer, sinks, send, client).
    client = duty._new_deliverer.args[2]  # type: ignore[union-attr]
    first = client()
    assert client() is first and not first.is_closed
    await duty.close()
    assert first.is_closed
    assert client() is not first  # a later duty gets a new one
    await duty.close()
