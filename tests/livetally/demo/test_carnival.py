"""The carnival's stream and partners."""

from __future__ import annotations

import math

from contract.registry import hash_secret
from livetally.demo.carnival import PARTNERS, STREAM, partner_record


def test_eleven_partners_with_unique_ids_and_both_names():
    assert len(PARTNERS) == 11
    assert len({p.id for p in PARTNERS}) == 11
    assert all(p.name and p.name_en for p in PARTNERS)
    assert STREAM.id == "carnival-2024" and STREAM.title == "成都市第八届社区邻里嘉年华"


def test_weights_are_unequal_and_sichuan_platforms_lead():
    weights = {p.id: p.weight for p in PARTNERS}
    assert math.isclose(sum(weights.values()), 1.0)
    assert len(set(weights.values())) > 3
    top_three = sorted(weights, key=weights.__getitem__, reverse=True)[:3]
    assert set(top_three) == {"scnews", "jinguan", "hongxing"}


def test_exactly_one_small_partner_reports_its_own_counts():
    reports = [p for p in PARTNERS if p.mode == "reports"]
    assert [p.id for p in reports] == ["xiamen"]
    assert reports[0].weight == min(p.weight for p in PARTNERS)


def test_partner_record_holds_the_key_hash_and_demo_rate():
    record = partner_record(PARTNERS[0], "ltk_demo", rate=50_000)
    assert record.key_hash == hash_secret("ltk_demo")
    assert (record.id, record.rate, record.mode) == ("scnews", 50_000, "sessions")
