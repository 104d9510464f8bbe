"""The reference case: the Chengdu 8th Community Neighbourhood Carnival (21 Dec 2024)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from contract.events import PartnerMode
from contract.registry import Partner, Stream, hash_secret

__all__ = [
    "DEMO_RATE",
    "DURATION_S",
    "PARTNERS",
    "PROGRAMME",
    "STARTS_AT",
    "STREAM",
    "TOTAL_SESSIONS",
    "DemoPartner",
    "ProgrammeItem",
    "partner_record",
]

STREAM = Stream(id="carnival-2024", title="成都市第八届社区邻里嘉年华", tz="Asia/Shanghai")
"""The live stream every partner reports on."""
STARTS_AT = datetime(2024, 12, 21, 19, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
"""When the broadcast began (the simulation's offset 0)."""
DURATION_S = 3 * 3600
"""The evening broadcast, 19:00-22:00."""
TOTAL_SESSIONS = 1_050_000
"""Viewing sessions across all partners at scale 1 (so views pass one million)."""
DEMO_RATE = 50_000
"""Events per second each demo partner may post (the real audience peaks far above 5,000)."""


@dataclass(frozen=True)
class DemoPartner:
    """A partner platform of the carnival and its share of the audience."""

    id: str
    name: str
    name_en: str
    weight: float
    mode: PartnerMode = "sessions"


PARTNERS: tuple[DemoPartner, ...] = (
    DemoPartner("scnews", "四川新闻网", "Sichuan News Network", 0.22),
    DemoPartner("jinguan", "锦观新闻", "Jinguan News", 0.17),
    DemoPartner("hongxing", "红星新闻网", "Red Star News", 0.15),
    DemoPartner("kandu", "看度", "Kandu", 0.10),
    DemoPartner("aikan", "爱看头条", "Aikan Toutiao", 0.08),
    DemoPartner("kunming", "昆明信息港", "Kunming Information Port", 0.06),
    DemoPartner("huaxia", "华夏网", "Huaxia Net", 0.06),
    DemoPartner("changjiang", "长江网", "Changjiang Net", 0.06),
    DemoPartner("dayang", "大洋网", "Dayoo", 0.04),
    DemoPartner("jinyang", "金羊网", "Jinyang Net", 0.04),
    # The one partner that reports its own counts every 10 s instead of sessions.
    DemoPartner("xiamen", "厦门网", "Xiamen Net", 0.02, mode="reports"),
)


@dataclass(frozen=True)
class ProgrammeItem:
    """A segment of the demo's programme, ``offset_s`` into the broadcast."""

    offset_s: int
    id: str
    title: str
    title_en: str


PROGRAMME: tuple[ProgrammeItem, ...] = (
    ProgrammeItem(0, "opening", "开幕式", "Opening ceremony"),
    ProgrammeItem(15 * 60, "talent", "社区才艺展示", "Community talent show"),
    ProgrammeItem(45 * 60, "heritage", "非遗展演", "Intangible heritage on stage"),
    ProgrammeItem(85 * 60, "games", "邻里互动游戏", "Neighbourhood games"),
    ProgrammeItem(125 * 60, "gala", "文艺汇演", "Gala performances"),
    ProgrammeItem(160 * 60, "finale", "闭幕式", "Closing ceremony"),
)
"""An illustrative running order for the demo (not the real carnival's): the replay
enters each segment as its time comes, as the live-ops room would."""


def partner_record(partner: DemoPartner, key: str, *, rate: int = DEMO_RATE) -> Partner:
    """The registry record of a demo partner holding only the hash of ``key``."""
    return Partner(
        id=partner.id,
        name=partner.name,
        name_en=partner.name_en,
        mode=partner.mode,
        session_timeout_s=30,
        rate=rate,
        key_hash=hash_secret(key),
    )
