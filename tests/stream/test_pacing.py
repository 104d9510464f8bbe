import pytest

from stream.pacing import publish_interval


@pytest.mark.parametrize(
    ("behind_ms", "expected_s"),
    [
        (0, 0.25),  # nothing pending, or keeping up
        (-5_000, 0.25),  # ingest's clock ahead of the worker's
        (400, 0.25),
        (1_000, 0.25),  # a quarter of 1 s is the base interval
        (2_000, 0.5),
        (6_000, 1.5),
        (8_000, 2.0),
        (3_600_000, 2.0),  # an hour behind (a pre-filled backlog): the longest interval
    ],
)
def test_publish_interval_is_a_quarter_of_how_far_behind_within_bounds(behind_ms, expected_s):
    assert publish_interval(behind_ms, 0.25, 2.0) == pytest.approx(expected_s)


def test_publish_interval_never_shortens_a_long_base_interval():
    assert publish_interval(3_600_000, 3600.0, 3600.0) == 3600.0
