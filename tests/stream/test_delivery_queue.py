"""One channel's pending deliveries on a fake clock: backoff, window, bound, outcomes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.alerts import Alert
from stream.channels.base import Answer
from stream.delivery_queue import BACKOFF_MS, WINDOW_MS, DeliveryQueue, backoff_ms
from tests.stream.channels.conftest import drop_alert

T0 = 1_764_651_916_000
RETRY, OK, NO = Answer("retry", "HTTP 503"), Answer("delivered"), Answer("give_up", "HTTP 404")


def alert(n: int = 1, raised_at: int = T0) -> Alert:
    return dataclasses.replace(drop_alert(), id=f"live/s/p/{n}", raised_at=raised_at)


def queue(**options) -> DeliveryQueue:
    return DeliveryQueue("wecom", **options)


@pytest.mark.parametrize(
    ("failed", "wait_s"), [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 60), (7, 60), (50, 60)]
)
def test_the_backoff_doubles_from_2_s_to_a_minute(failed, wait_s):
    assert backoff_ms(failed) == wait_s * 1000


def test_there_is_no_backoff_before_a_failure():
    with pytest.raises(ValueError):
        backoff_ms(0)


def attempt_times(q: DeliveryQueue, answers) -> list[int]:
    """Run the queue on a fake clock, each attempt answered from ``answers``; return when
    each attempt was made, in seconds after T0."""
    now, times = T0, []
    while q.pending:
        pending = q.next_due(now)
        if pending is None:
            now += q.wait_ms(now)
            continue
        times.append((now - T0) // 1000)
        q.settle(pending, next(answers), now)
    return times


def test_a_failing_channel_is_tried_at_0_2_6_14_30_62_122_182_242_s_then_given_up():
    q = queue()
    q.offer(alert(), None, T0)
    times = attempt_times(q, iter([RETRY] * 100))
    assert times == [0, 2, 6, 14, 30, 62, 122, 182, 242]
    [failed] = q.outbox
    assert (failed.outcome, failed.attempts, failed.at) == ("failed", 9, T0 + 242_000)
    assert failed.detail == "no success within the delivery window; last: HTTP 503"


def test_a_retry_that_succeeds_is_delivered_once_with_its_attempts():
    q = queue()
    q.offer(alert(), None, T0)
    assert attempt_times(q, iter([RETRY, RETRY, OK])) == [0, 2, 6]
    [delivered] = q.outbox
    assert (delivered.outcome, delivered.attempts, delivered.detail) == ("delivered", 3, "HTTP 503")
    assert delivered.channel == "wecom" and delivered.alert_id == "live/s/p/1"


def test_a_permanent_refusal_is_given_up_at_once():
    q = queue()
    q.offer(alert(), None, T0)
    assert attempt_times(q, iter([NO])) == [0]
    assert [(d.outcome, d.detail) for d in q.outbox] == [("failed", "HTTP 404")]


def test_the_window_counts_from_the_alerts_raised_at_not_from_the_offer():
    q = queue()
    q.offer(alert(raised_at=T0 - 290_000), None, T0)  # offered again after a restart
    assert attempt_times(q, iter([RETRY] * 10)) == [0, 2, 6]
    assert not q.offer(alert(2, raised_at=T0 - WINDOW_MS), None, T0)
    assert [(d.alert_id, d.attempts) for d in q.outbox] == [("live/s/p/1", 3), ("live/s/p/2", 0)]


def test_an_alert_is_offered_once_while_pending_and_after_it_settled():
    q = queue()
    assert q.offer(alert(), None, T0)
    assert not q.offer(alert(), None, T0 + 1)
    q.settle(q.next_due(T0), OK, T0)
    assert not q.offer(alert(), None, T0 + 2)
    assert len(q.outbox) == 1
    q.forget_before(2 * WINDOW_MS + T0 + 1)  # long out of the window: forgotten
    assert q.settled == {}


def test_a_settled_alert_is_still_known_just_after_the_window():
    # The backlog is re-offered every tick, timed by the tick rather than by this queue's
    # clock: an alert settled here must not come back as new, to be recorded as too old.
    q = queue()
    q.offer(alert(), None, T0)
    q.settle(q.next_due(T0), OK, T0)
    q.forget_before(T0 + WINDOW_MS + 1_000)
    assert q.knows(alert().id)
    assert not q.offer(alert(), None, T0 + WINDOW_MS + 1_000)
    assert [d.outcome for d in q.outbox] == ["delivered"]


def test_an_alert_given_up_before_any_attempt_is_recorded_once():
    q = queue()
    assert q.give_up(alert(), "its message could not be made", T0)
    assert not q.give_up(alert(), "again", T0 + 1) and not q.offer(alert(), None, T0 + 2)
    assert not q.pending and q.knows(alert().id) and not q.knows(alert(2).id)
    assert [(d.outcome, d.attempts, d.detail) for d in q.outbox] == [
        ("failed", 0, "its message could not be made")
    ]


def test_a_full_queue_gives_new_alerts_up_instead_of_growing():
    q = queue(max_pending=2)
    assert [q.offer(alert(n), None, T0) for n in range(4)] == [True, True, False, False]
    assert len(q.pending) == 2
    assert [(d.alert_id, d.outcome, d.detail) for d in q.outbox] == [
        ("live/s/p/2", "failed", "2 alerts were already waiting"),
        ("live/s/p/3", "failed", "2 alerts were already waiting"),
    ]


def test_the_earliest_due_goes_first_and_ties_in_offer_order():
    q = queue()
    for n in (3, 1, 2):
        q.offer(alert(n), None, T0)
    first = q.next_due(T0)
    assert first.alert.id == "live/s/p/3"
    q.settle(first, RETRY, T0)
    assert [q.next_due(T0).alert.id] == ["live/s/p/1"]
    assert q.wait_ms(T0) == 0
    for p in list(q.pending.values())[1:]:
        q.settle(p, OK, T0)
    assert q.next_due(T0) is None and q.wait_ms(T0) == BACKOFF_MS[0]
    assert queue().wait_ms(T0) is None


@given(st.lists(st.sampled_from(["retry", "delivered", "give_up"]), min_size=1, max_size=20))
def test_every_offer_ends_in_exactly_one_outcome_within_the_window(verdicts):
    q = queue()
    q.offer(alert(), None, T0)
    answers = iter([Answer(v) for v in verdicts] + [RETRY] * 20)
    times = attempt_times(q, answers)
    assert len(q.outbox) == 1 and not q.pending
    assert all(t * 1000 < WINDOW_MS for t in times)
    assert q.outbox[0].attempts == len(times)
