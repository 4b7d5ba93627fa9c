"""The micro-batcher on its own: answers go to the right caller, batches form, one bad request fails alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opskit.serve.batching import MicroBatcher


def doubled(calls: list[int]) -> Any:
    def predict(columns: tuple[str, ...] | None, rows: list[list[Any]]) -> list[Any]:
        calls.append(len(rows))
        if any(row[0] == "bad" for row in rows):
            raise ValueError("bad row")
        return [row[0] * 2 for row in rows]

    return predict


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(-1000, 1000), min_size=1, max_size=5), min_size=1, max_size=30),
    st.integers(1, 16),
)
def test_each_caller_gets_its_own_predictions(chunks: list[list[int]], max_batch: int) -> None:
    """However requests are batched, every caller receives exactly the predictions for its rows."""
    calls: list[int] = []

    async def run() -> list[list[Any]]:
        batcher = MicroBatcher(doubled(calls), max_batch=max_batch, max_wait=0.001)
        try:
            return await asyncio.gather(
                *(batcher.submit(("x",), [[v] for v in chunk]) for chunk in chunks)
            )
        finally:
            await batcher.close()

    results = asyncio.run(asyncio.wait_for(run(), 30))
    assert results == [[v * 2 for v in chunk] for chunk in chunks]
    assert sum(calls) == sum(map(len, chunks))


def test_concurrent_requests_share_calls_and_a_bad_one_fails_alone() -> None:
    """Concurrent single rows form batches; a failing row fails only its own request."""
    calls: list[int] = []

    async def run() -> list[Any]:
        batcher = MicroBatcher(doubled(calls), max_batch=64, max_wait=0.01)
        try:
            rows: list[Any] = [1, 2, "bad", 3, 4]
            return await asyncio.gather(
                *(batcher.submit(None, [[v]]) for v in rows), return_exceptions=True
            )
        finally:
            await batcher.close()

    results = asyncio.run(asyncio.wait_for(run(), 30))
    assert results[:2] == [[2], [4]] and results[3:] == [[6], [8]]
    assert isinstance(results[2], ValueError)
    assert calls[0] == 5  # the first call held all five requests


def test_a_lone_request_is_answered() -> None:
    """One request with nobody else in flight is predicted at once."""

    async def run() -> list[Any]:
        batcher = MicroBatcher(doubled([]), max_batch=8, max_wait=5.0)
        try:
            return await asyncio.wait_for(batcher.submit(None, [[21]]), 2)
        finally:
            await batcher.close()

    assert asyncio.run(run()) == [42]
    with pytest.raises(ValueError, match="bad row"):
        asyncio.run(MicroBatcher(doubled([])).submit(None, [["bad"]]))
