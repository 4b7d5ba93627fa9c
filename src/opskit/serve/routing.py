"""Traffic split: weighted choice of a variant, sticky for requests that carry a routing key."""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

__all__ = ["Router"]


class Router:
    """Pick a variant index by weight; the same routing key always lands on the same variant."""

    def __init__(self, weights: Sequence[float]) -> None:
        total = float(sum(weights))
        if not weights or total <= 0 or any(w < 0 for w in weights):
            raise ValueError(
                f"weights must be non-negative and sum to more than 0, got {list(weights)}"
            )
        self.bounds = [b / total for b in accumulate(weights)]
        self._random = random.Random()

    def _index(self, point: float) -> int:
        return min(bisect_right(self.bounds, point), len(self.bounds) - 1)

    def choose(self, key: str | None = None) -> int:
        """The variant for one request: stable for a routing *key*, random by weight without one."""
        if len(self.bounds) == 1:
            return 0
        if key is None:
            return self._index(self._random.random())
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return self._index(int.from_bytes(digest, "big") / 2**64)
