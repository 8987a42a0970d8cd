"""Fast seeded draws: everything derives from `random.Random.random()`, the cheapest call."""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Sequence
from typing import TypeVar

# `random.choices`, `randint` and `sample` cost ten times more; the population is drawn hundreds
# of thousands of times at every start.

T = TypeVar("T")


class Draws:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self.random = self._rng.random

    def dice(self) -> int:
        """53 random bits, to be cut into several small draws with `divmod`."""
        return int(self.random() * 9_007_199_254_740_992)  # 2**53

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def between(self, low: int, high: int) -> int:
        """An integer of [low, high]."""
        return low + int(self.random() * (high - low + 1))

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]

    def weighted(self, items: Sequence[T], cumulative: Sequence[int]) -> T:
        return items[bisect(cumulative, self.random() * cumulative[-1])]

    def distinct(self, items: Sequence[T], count: int) -> tuple[T, ...]:
        chosen: list[T] = []
        while len(chosen) < count:
            item = self.pick(items)
            if item not in chosen:
                chosen.append(item)
        return tuple(chosen)

    def lognormal(self, median: float, sigma: float) -> float:
        # Box-Muller on two uniform draws: same value on every platform.
        u1, u2 = 1.0 - self.random(), self.random()
        normal = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        return median * math.exp(sigma * normal)
