"""Builders for dashboard tests: snapshots from hand-made chunks, stats and a registry."""

from __future__ import annotations

from contract.partials import Chunk
from contract.registry import Partner, Registry, Stream, Token, hash_secret
from contract.stats import PartitionStats
from dashboard.data import StreamState
from dashboard.model import Snapshot

VIEWER_TOKEN = "tok_viewer_secret"
T0 = 1_734_778_800  # 2024-12-21T19:00:00+08:00, a minute boundary


def chunk(platform, partition, seconds, *, stream="carnival", minute=None):
    """A chunk; ``minute`` defaults to the minute of the first second."""
    first = min(seconds) if seconds else T0
    return Chunk(
        stream, platform, partition, minute if minute is not None else first // 60 * 60, seconds
    )


def registry():
    return Registry.of(
        [
            Stream("carnival", "成都第八届社区邻里节", "Asia/Shanghai"),
            Partner("douyin", "抖音", "Douyin"),
            Partner("bili", "哔哩哔哩", "Bilibili"),
            # Limited to the carnival: listed there (offline) before it sends anything.
            Partner("quiet", "安静台", "Quiet TV", streams=("carnival",)),
            Token("t1", "viewer", "wall", hash_secret(VIEWER_TOKEN)),
        ]
    )


def build(chunks, stats=(), reg=None, version=1) -> Snapshot:
    state = StreamState()
    for c in chunks:
        state.put_chunk(c)
    for i, rec in enumerate(stats):
        state.put_stats(f"k{i}", rec)
    return state.build(reg if reg is not None else registry(), version)


def stats(platform, partition, *, arrival=None, event=None, events=0, stream="carnival"):
    return PartitionStats(stream, platform, partition, event, arrival, events, 0)


def texts(component) -> list[str]:
    """All strings inside a Dash component tree, in order."""
    if isinstance(component, str):
        return [component]
    children = getattr(component, "children", None)
    if children is None:
        return []
    if not isinstance(children, list):
        children = [children]
    return [t for child in children for t in texts(child)]
