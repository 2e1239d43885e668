"""Retry jitter: within its bounds, and drawn without touching the `random` module's state."""

from __future__ import annotations

import random

from shared import queue
from shared.jitter import equal_jitter, spread


def test_jitter_stays_within_its_bounds() -> None:
    for _ in range(1000):
        assert 5.0 <= equal_jitter(10.0) <= 10.0
        assert 8.0 <= spread(10.0, 0.2) <= 12.0
    assert len({equal_jitter(10.0) for _ in range(20)}) > 1  # it does spread


def test_jitter_leaves_the_global_random_state_alone() -> None:
    """A seeded test, or Hypothesis generating examples in a thread while the services retry,
    sees the same sequence whether or not retries drew their jitter meanwhile."""
    random.seed(7)
    expected = [random.random() for _ in range(3)]
    random.seed(7)
    drawn = []
    for _ in range(3):
        equal_jitter(1.0)
        spread(1.0, 0.5)
        queue.backoff(3)
        drawn.append(random.random())
    assert drawn == expected
