"""Random spread for retry delays, so that many clients do not retry in step.

Drawn from a generator of our own, not the `random` module's functions: the module's generator
is shared with everything else in the process. A test that seeds it would see our retries move
its sequence, and Hypothesis (the fuzz tests generate examples in a thread while the services'
background retries run) warns that the state changed under its strategies. Not for secrets:
tokens come from `secrets`.
"""

from __future__ import annotations

import random

_random = random.Random()  # noqa: S311 - jitter, not security


def equal_jitter(ceiling: float) -> float:
    """Between half of `ceiling` and all of it ("equal jitter")."""
    return ceiling / 2 + _random.uniform(0, ceiling / 2)


def spread(value: float, share: float) -> float:
    """`value` moved up or down by up to `share` of itself."""
    return value * _random.uniform(1 - share, 1 + share)
