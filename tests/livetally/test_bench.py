"""The benchmark suite: its pure parts, and one quick run of the whole thing on a real stack."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livetally.bench.config import FULL, QUICK, BenchConfig
from livetally.bench.endtoend import ProbeResult, pipeline_latency
from livetally.bench.eventlog import (
    LogParams,
    batch_records,
    body_batch,
    encode_body,
    iter_batches,
    read_log,
    session_batches,
    take_events,
    textbook_records,
    write_log,
)
from livetally.bench.kafkaio import Prefill
from livetally.bench.report import KEYS, TARGETS, Results, format_table, parse_cpu_model, verdict
from livetally.bench.stats import pacing_schedule, percentile, rate, summarize_ms

# --- percentiles and rates ------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),
        (list(range(1, 101)), 99, 99.01),
        ([10.0, 20.0], 95, 19.5),
    ],
)
def test_percentile_interpolates_between_ranks(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_none_and_out_of_range_is_refused():
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="0-100"):
        percentile([1.0], 101)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 100))
def test_percentile_lies_within_the_values_and_grows_with_q(values, q):
    p = percentile(values, q)
    slack = 1e-9 * max(1.0, max(abs(v) for v in values))  # interpolation rounding
    assert min(values) - slack <= p <= max(values) + slack
    assert percentile(values, min(100.0, q + 1)) >= p - slack


def test_summarize_ms_converts_seconds():
    summary = summarize_ms([0.1, 0.2, 0.3])
    assert summary["p50"] == pytest.approx(200.0)
    assert summary["max"] == pytest.approx(300.0)
    assert summarize_ms([])["p95"] is None


def test_rate_needs_time_to_pass():
    assert rate(1000, 2.0) == 500.0
    assert rate(1000, 0.0) is None


# --- pacing ---------------------------------------------------------------------------


def test_pacing_spaces_full_batches_evenly_at_the_offered_rate():
    times = pacing_schedule([500] * 5, 20_000)
    assert times == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1])


def test_pacing_gives_a_small_batch_a_small_share_of_time():
    times = pacing_schedule([500, 100, 500], 1000)
    assert times == pytest.approx([0.0, 0.5, 0.6])


@given(st.lists(st.integers(1, 1000), min_size=2, max_size=100), st.integers(1, 100_000))
def test_pacing_offers_exactly_the_rate(sizes, events_per_s):
    times = pacing_schedule(sizes, events_per_s)
    assert times[0] == 0.0
    assert all(b >= a for a, b in zip(times, times[1:], strict=False))
    # Everything before the last batch was sent in exactly its share of time.
    assert times[-1] == pytest.approx(sum(sizes[:-1]) / events_per_s)


def test_pacing_refuses_a_rate_that_is_not_positive():
    with pytest.raises(ValueError, match="positive"):
        pacing_schedule([500], 0)
    with pytest.raises(ValueError, match="cannot hold"):
        pacing_schedule([-1], 10)


# --- the event log --------------------------------------------------------------------

SMALL = LogParams(scale=0.0002, seed=7)


def _digest(params: LogParams) -> list[bytes]:
    return [encode_body(batch, 1_700_000_000_000) for batch in iter_batches(params)]


def test_the_same_seed_gives_the_same_log_byte_for_byte():
    assert _digest(SMALL) == _digest(LogParams(scale=0.0002, seed=7))


def test_another_seed_gives_another_log():
    assert _digest(SMALL) != _digest(LogParams(scale=0.0002, seed=8))


def test_log_has_the_carnival_mix_heartbeats_duplicates_and_reordering():
    batches = list(iter_batches(LogParams(scale=0.0005, seed=3, duplicate_share=0.1)))
    types = Counter(e["type"] for b in batches for _, e in b.events)
    assert {"join", "heartbeat", "leave", "count"} <= set(types)
    assert types["heartbeat"] > types["join"]
    partners = {b.partner for b in batches}
    assert len(partners) == 11
    assert all(len(b.events) <= 500 for b in batches)
    duplicates = [b for b in batches if b.duplicate]
    assert duplicates
    originals = [(b.partner, b.events) for b in batches if not b.duplicate]
    assert all((d.partner, d.events) in originals for d in duplicates)
    # Some batch of a partner starts before the previous batch of that partner (reordered).
    first_by_partner: dict[str, int] = {}
    reordered = False
    for batch in (b for b in batches if not b.duplicate):
        start = batch.events[0][0]
        if start < first_by_partner.get(batch.partner, -1):
            reordered = True
        first_by_partner[batch.partner] = max(first_by_partner.get(batch.partner, -1), start)
    assert reordered


def test_heartbeats_of_a_session_are_ten_seconds_apart():
    batches = [b for b in iter_batches(SMALL) if not b.duplicate]
    seen: dict[str, list[int]] = {}
    for batch in batches:
        for offset, event in batch.events:
            if event["type"] in ("join", "heartbeat"):
                seen.setdefault(event["session_id"], []).append(offset)
    gaps = {
        b - a
        for times in seen.values()
        for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
    }
    assert gaps == {10_000}


def test_take_events_cuts_the_log_at_the_limit():
    taken = list(take_events(iter_batches(SMALL), 1234))
    assert sum(len(b.events) for b in taken) == 1234


def test_id_prefix_makes_new_sessions_and_ts_is_rebased():
    batch = next(b for b in iter_batches(SMALL) if b.partner == "scnews")
    body = json.loads(encode_body(batch, 1000, "x-"))
    first = body["events"][0]
    assert first["ts"] == 1000 + batch.events[0][0]
    assert first["session_id"] == "x-" + batch.events[0][1]["session_id"]


def test_log_file_round_trips(tmp_path):
    path = tmp_path / "log.bin"
    batches = list(take_events(iter_batches(SMALL), 3000))
    count, events = write_log(path, batches, 5000)
    assert (count, events) == (len(batches), 3000)
    back = [body_batch(p, b) for p, b in read_log(path)]
    assert [b.partner for b in back] == [b.partner for b in batches]
    assert [len(b.events) for b in back] == [len(b.events) for b in batches]
    assert back[0].events[0][0] == 5000 + batches[0].events[0][0]


def test_records_pack_every_event_once_in_its_viewers_partition():
    batch = next(b for b in iter_batches(SMALL) if len(b.events) > 50)
    records = batch_records(batch, 1_700_000_000_000, partitions=4)
    assert sum(r.count for r in records) == len(batch.events)
    assert len({r.partition for r in records}) == len(records)
    textbook = textbook_records(batch, 1_700_000_000_000)
    assert len(textbook) == len(batch.events)
    assert all(json.loads(v)["platform"] == batch.partner for _, v in textbook)


def test_session_batches_hold_new_sessions_only():
    first = list(session_batches(1200, seed=1))
    more = list(session_batches(800, seed=1, start=1200))
    ids = [e["session_id"] for b in first + more for _, e in b.events]
    assert len(ids) == len(set(ids)) == 2000
    assert all(e["type"] == "join" for b in first for _, e in b.events)


def test_prefill_counts_events_between_offsets():
    prefill = Prefill(
        records=4,
        events=100,
        ends={0: 2, 1: 2},
        events_before={0: [0, 10, 40], 1: [0, 20, 60]},
        seconds=1.0,
    )
    assert prefill.events_between({0: 0, 1: 0}, prefill.ends) == 100
    assert prefill.events_between({0: 1, 1: 2}, prefill.ends) == 30


def test_log_params_refuse_impossible_shares():
    with pytest.raises(ValueError, match="duplicate_share"):
        LogParams(scale=1, duplicate_share=1.5)


# --- report ---------------------------------------------------------------------------


def test_verdicts_compare_in_the_targets_direction():
    by_key = {t.key: t for t in TARGETS}
    assert verdict(by_key["ingest_events_per_s"], 60_000) == "met"
    assert verdict(by_key["ingest_events_per_s"], 49_999) == "missed"
    assert verdict(by_key["e2e_p95_ms_at_20k"], 2000) == "met"
    assert verdict(by_key["e2e_p95_ms_at_20k"], 2001) == "missed"
    assert verdict(by_key["ratio_vs_textbook"], None) == "not measured"
    assert verdict(by_key["ratio_vs_quix"], 5.0) == "met"
    assert verdict(by_key["ratio_vs_quix"], 4.99) == "missed"


def test_results_json_has_every_key_and_a_reason_for_each_null():
    results = Results()
    results.set("ingest_events_per_s", 12345.6789)
    results.set("rss_mib_1m_sessions", None, "skipped")
    doc = results.as_json()
    assert all(key in doc for key in KEYS)
    assert doc["ingest_events_per_s"] == pytest.approx(12345.679)
    assert doc["why_null"]["rss_mib_1m_sessions"] == "skipped"
    assert all(doc[k] is not None or k in doc["why_null"] for k in KEYS)
    assert doc["targets"]["ingest_events_per_s"]["verdict"] == "missed"
    with pytest.raises(ValueError, match="unknown figure"):
        results.set("nonsense", 1)


def test_table_shows_machine_values_verdicts_and_reasons():
    results = Results(machine={"cpu_model": "Test CPU", "cores": 2, "load_average": [1.0]})
    results.date = "2026-01-01T00:00:00+00:00"
    results.set("aggregate_events_per_s", 312456.0)
    results.set("ratio_vs_limit", 0.25)
    results.set("e2e_p95_ms_at_20k", None, "broker down")
    table = format_table(results, [("Scale: 2 partitions / 2 workers", "9 events/s")])
    lines = table.splitlines()
    assert "Test CPU, 2 cores" in table
    row = next(line for line in lines if "livetally worker" in line)
    assert "312,456" in row and "met" in row
    assert "missed" in next(line for line in lines if "livetally / limit" in line)
    assert "0.25x" in table
    assert "e2e_p95_ms_at_20k: broker down" in table
    assert "Scale: 2 partitions / 2 workers" in table
    # Columns line up: every row of the main table has its separators at the same places.
    rows = [line for line in lines if line.startswith(" Aggregation") or line.startswith(" figure")]
    assert len({line.index("|") for line in rows}) == 1


def test_quick_run_tables_do_not_judge_targets():
    results = Results(quick=True)
    results.set("ingest_events_per_s", 10.0)
    row = next(line for line in format_table(results).splitlines() if "Ingest: events/s" in line)
    assert "not judged" in row and "missed" not in row


def test_cpu_model_is_read_from_cpuinfo():
    text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n"
    assert parse_cpu_model(text) == "AMD EPYC 7B13"
    assert parse_cpu_model("nothing here") == "unknown"


def test_end_to_end_pipeline_latency_starts_when_the_second_begins():
    # Accepted at 100.2 s with ts 100.4 s: the dashboard can show it from 101 s on.
    assert pipeline_latency(100.2, 100_400, 101.3) == pytest.approx(0.3)
    # An event of an already begun second counts from its acceptance.
    assert pipeline_latency(100.2, 99_000, 100.5) == pytest.approx(0.3)


def test_probes_never_seen_count_as_waiting_until_the_end():
    probes = ProbeResult(
        accepted_at=[10.0, 11.0, 12.0], ts_ms=[0, 0, 0], visible_at=[10.5, None, 12.25]
    )
    probes.ended_at = 20.0
    assert probes.latencies() == pytest.approx([0.5, 9.0, 0.25])
    assert probes.unseen == 1


def test_config_reads_its_port_and_keeps_livetally_variables_out_of_children():
    config = BenchConfig.from_env(
        quick=True,
        environ={"LIVETALLY_BENCH_PORT": "35100", "LIVETALLY_KAFKA_PORT": "9092", "PATH": "/bin"},
    )
    assert config.sizes is QUICK and config.base_port == 35100
    assert config.child_env == {"LIVETALLY_BENCH_PORT": "35100", "PATH": "/bin"}
    assert BenchConfig.from_env(quick=False, environ={}).sizes is FULL
    with pytest.raises(ValueError, match="LIVETALLY_BENCH_PORT"):
        BenchConfig.from_env(quick=True, environ={"LIVETALLY_BENCH_PORT": "80"})


def test_config_reads_the_ingest_processes_of_the_ingest_part():
    assert BenchConfig.from_env(quick=True, environ={}).ingest_workers == 2
    one = BenchConfig.from_env(quick=True, environ={"LIVETALLY_BENCH_INGEST_WORKERS": "1"})
    assert one.ingest_workers == 1
    with pytest.raises(ValueError, match="LIVETALLY_BENCH_INGEST_WORKERS"):
        BenchConfig.from_env(quick=True, environ={"LIVETALLY_BENCH_INGEST_WORKERS": "0"})


# --- the whole suite ------------------------------------------------------------------


@pytest.mark.integration
def test_quick_bench_runs_the_whole_pipeline_and_counts_what_it_sent(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "livetally", "bench", "--quick", "--json", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the bench still stops its broker and services
        stdout, stderr = proc.communicate(timeout=120)
        pytest.fail(f"the quick bench did not finish in 9 minutes:\n{stderr[-5000:]}")
    assert proc.returncode == 0, stdout[-3000:] + stderr[-5000:]
    doc = json.loads(out.read_text())
    for key in KEYS:
        value = doc[key]
        assert isinstance(value, int | float) or (value is None and doc["why_null"][key]), key
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["cpu_model"]
    assert doc["date"]
    details = doc["details"]
    assert details["failed_parts"] == []
    # Ingest accepted what it was sent.
    assert details["ingest"]["accepted"] > 0 and details["ingest"]["failed"] == 0
    assert details["ingest"]["alone"]["accepted"] > 0
    assert details["ingest"]["alone"]["failed"] == 0
    # Every event accepted in the closed loop is in a record written during it.
    records = details["ingest"]["records"]
    assert records["events"] == details["ingest"]["accepted"], records
    assert records["unreadable_records"] == 0
    assert doc["records_per_s_per_partition"] == pytest.approx(
        records["records_per_s_per_partition"], abs=0.1
    )
    # The worker counted exactly the events produced; the limit loop read them all too.
    agg = details["aggregation"]
    assert agg["events_counted"] == agg["events_produced"] > 0
    assert agg["limit"]["events"] == agg["events_produced"]
    assert agg["limit"]["records"] == agg["records_produced"]
    assert doc["aggregate_events_per_s"] > 0 and doc["textbook_events_per_s"] > 0
    # The Quix Streams app read the worker's topic and got views and uniques exactly.
    assert doc["quix_events_per_s"] > 0 and doc["ratio_vs_quix"] > 0
    peer = agg["quix"]
    assert peer["exact"] and peer["mismatches"] == {}, peer
    assert peer["partners"] > 0 and peer["views"] > 0 and peer["second_rows"] > 0
    # Every probe event reached the dashboard's summary API.
    e2e = details["e2e"]
    assert e2e["probes"] > 0 and e2e["probes_visible"] == e2e["probes"]
    assert details["memory_mib"]["100000"] > details["memory_mib"]["idle"]
    assert doc["rss_mib_100k_sessions"] == pytest.approx(details["memory_mib"]["100000"], abs=0.1)
    assert details["dashboard"]["export_bytes"] > 0
    # Both attacks were counted (their markers seen) and every probe reached the summary.
    for kind in ("sessions", "reports"):
        attack = details["adversarial"][kind]
        assert attack["events_per_s"] > 0 and attack["probes"] > 0, attack
        assert attack["probes_unseen"] == 0, attack
    assert doc["adversarial_stall_ms"] > 0
    # Every step of simulated live-page viewers got answers, none failed.
    steps = details["viewers"]["steps"]
    assert [s["viewers"] for s in steps] == [5, 20]
    assert all(s["answered_per_s"] > 0 and s["failed"] == 0 for s in steps), steps
    # The public counter answered every request of every step.
    counter = details["public"]["steps"]
    assert [s["connections"] for s in counter] == [4, 16]
    assert all(s["requests_per_s"] > 0 and s["errors"] == 0 for s in counter), counter
    assert all(set(s["statuses"]) == {"200"} for s in counter), counter
    # The capacity ramp ran over the whole stack: each step offered what it says, and the
    # figure is the accepted rate of a sustained one (or null with the reason).
    capacity = details["capacity"]
    ramp = capacity["steps"]
    assert [s["offered_events_per_s"] for s in ramp][:1] == [1_000], ramp
    assert all(s["accepted_events_per_s"] > 0 and s["failed_requests"] == 0 for s in ramp), ramp
    assert {"worker", "ingest", "dashboard", "kafka-0", "load generator"} <= set(ramp[0]["cores"])
    sustained = [s["accepted_events_per_s"] for s in ramp if s["sustained"]]
    if sustained:
        assert doc["capacity_events_per_s"] == pytest.approx(max(sustained), abs=0.1)
    else:
        assert doc["capacity_events_per_s"] is None and doc["why_null"]["capacity_events_per_s"]
    assert "livetally bench --quick" in stdout


def test_attack_batches_hold_one_session_then_its_leaves_out_of_order():
    from livetally.bench.adversarial import BATCH, attack_batches

    batches = list(attack_batches("sessions", 1_200, 300, 1_000_000, seed=1))
    events = [e for b in batches for e in b]
    assert all(len(b) <= BATCH for b in batches)
    heartbeats = [e for e in events if e["type"] == "heartbeat"]
    leaves = [e["ts"] for e in events if e["type"] == "leave"]
    assert [e["ts"] for e in heartbeats] == list(range(1_000_000, 1_001_200))
    assert {e["session_id"] for e in events} == {"attack"}
    assert len(set(leaves)) == 300 and all(1_000_000 <= t < 1_001_200 for t in leaves)
    assert leaves != sorted(leaves)  # out of order
    assert events.index(next(e for e in events if e["type"] == "leave")) == 1_200
    reports = [e for b in attack_batches("reports", 700, 0, 5, seed=1) for e in b]
    assert [e["ts"] for e in reports] == list(range(5, 705))
    assert {e["type"] for e in reports} == {"count"}
    with pytest.raises(ValueError, match="unknown attack"):
        list(attack_batches("floods", 1, 0, 0, seed=1))


def test_parts_can_be_selected_by_name_and_unknown_names_are_refused():
    from livetally.bench.runner import PARTS, select_parts
    from livetally.exceptions import LivetallyError

    assert select_parts(()) == PARTS
    assert [name for name, _, _ in select_parts(("memory", "scale"))] == ["scale", "memory"]
    with pytest.raises(LivetallyError, match="unknown bench part"):
        select_parts(("warp",))


async def test_load_generator_resends_once_when_the_server_closed_an_idle_connection():
    import asyncio

    from livetally.bench.loadgen import Conn, bearer

    served: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Answer one request, then close the connection (as a keep-alive timeout does).
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        served.append(length)
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = Conn("127.0.0.1", port)
    before = Conn.stale_retries
    try:
        assert await conn.post("/v1/events", b"{}", bearer("k")) == (202, b"{}")
        await asyncio.sleep(0.1)  # the server has closed it by now
        assert await conn.post("/v1/events", b"{}", bearer("k")) == (202, b"{}")
    finally:
        await conn.close()
        server.close()
        await server.wait_closed()
    assert served == [2, 2]
    assert Conn.stale_retries - before == 1


def test_the_counter_load_counts_answers_by_status_against_a_real_server(tmp_path):
    import time as clock

    import httpx

    from contract.registry import Registry, Stream, Token, hash_secret
    from dashboard.data import StaticData
    from dashboard.model import Snapshot
    from dashboard.public import serve_public
    from livetally.bench.public import CounterStep, best, measure_counter
    from tests.ports import free_port

    registry = Registry.of(
        [
            Stream("s", "S"),
            Token("p", "public", "", public_hash=hash_secret("ltt_p"), streams=("s",)),
        ]
    )
    port = free_port()
    serve_public("127.0.0.1", port, StaticData(Snapshot(registry=registry)))
    base = f"http://127.0.0.1:{port}/api/v1/public/live"
    deadline = clock.monotonic() + 10
    while clock.monotonic() < deadline:
        try:
            httpx.get(base)
            break
        except httpx.ConnectError:
            clock.sleep(0.05)
    good = measure_counter(f"{base}?token=ltt_p", (2,), 0.3)[0]
    bad = measure_counter(f"{base}?token=nope", (1,), 0.2)[0]
    assert set(good.statuses) == {200} and good.statuses[200] == len(good.latencies_ms) > 0
    assert set(bad.statuses) == {401} and not bad.errors
    assert best([good, bad]) is good  # a step of refusals never counts
    slow = CounterStep(1, 1.0, {200: 100}, [60.0] * 100)
    assert best([slow]) is None and slow.p99_ms == 60.0
