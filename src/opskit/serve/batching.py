"""Adaptive micro-batching: concurrent requests share one ``predict`` call.

Requests queue up; one loop takes everything waiting (up to ``max_batch``
rows), waits at most ``max_wait`` for more *only while other requests are
still in flight and not yet in the batch*, then runs the model once in a
worker thread and hands each request its slice of the predictions. A lone
request therefore never waits; under load, batches grow by themselves while
the previous batch is being predicted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["MergeFn", "MicroBatcher", "PredictFn"]

#: ``predict(columns, rows) -> one prediction per row`` (*rows*: the merged parts).
PredictFn = Callable[[tuple[str, ...] | None, Any], Sequence[Any]]
#: ``merge(parts) -> rows``: stacks the parts of one batch (default: concatenated lists).
MergeFn = Callable[[list[Any]], Any]


def _concat(parts: list[Any]) -> Any:
    return [row for part in parts for row in part]


class MicroBatcher:
    """Gather rows from concurrent callers into batched ``predict`` calls (one asyncio loop)."""

    def __init__(
        self,
        predict: PredictFn,
        *,
        max_batch: int = 64,
        max_wait: float = 0.002,
        merge: MergeFn = _concat,
    ) -> None:
        self.predict = predict
        self.merge = merge
        self.max_batch = max(1, max_batch)
        self.max_wait = max(0.0, max_wait)
        self.batches = 0
        self.rows = 0
        self._queue: (
            asyncio.Queue[tuple[tuple[str, ...] | None, Any, asyncio.Future[list[Any]]]] | None
        ) = None
        self._inflight = 0
        self._task: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opskit-predict")

    async def submit(self, columns: tuple[str, ...] | None, rows: Any) -> list[Any]:
        """Predict *rows* (any sized part ``merge`` stacks); resolves when its batch is done (or raises its error)."""
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._run())
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._inflight += 1
        try:
            self._queue.put_nowait((columns, rows, future))
            return await future
        finally:
            self._inflight -= 1

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            size = len(batch[0][1])
            deadline = time.monotonic() + self.max_wait
            while size < self.max_batch:
                if not queue.empty():
                    item = queue.get_nowait()
                elif self._inflight > len(batch) and (left := deadline - time.monotonic()) > 0:
                    try:
                        item = await asyncio.wait_for(queue.get(), left)
                    except TimeoutError:
                        break
                else:
                    break
                if item[0] != batch[0][0]:  # different column layout: next batch
                    queue.put_nowait(item)
                    break
                batch.append(item)
                size += len(item[1])
            try:
                parts = [chunk for _, chunk, _ in batch]
                predictions = await self._call(loop, batch[0][0], parts)
            except Exception as exc:
                if len(batch) == 1:
                    if not batch[0][2].done():
                        batch[0][2].set_exception(exc)
                    continue
                # One bad request must not fail its neighbours: retry each on its own.
                for columns, chunk, future in batch:
                    try:
                        result = await self._call(loop, columns, [chunk])
                    except Exception as single:
                        if not future.done():
                            future.set_exception(single)
                    else:
                        if not future.done():
                            future.set_result(list(result))
                continue
            self.batches += 1
            self.rows += len(predictions)
            start = 0
            for _, chunk, future in batch:
                if not future.done():
                    future.set_result(list(predictions[start : start + len(chunk)]))
                start += len(chunk)

    def _merge_and_predict(
        self, columns: tuple[str, ...] | None, parts: list[Any]
    ) -> Sequence[Any]:
        return self.predict(columns, self.merge(parts))

    async def _call(
        self, loop: asyncio.AbstractEventLoop, columns: tuple[str, ...] | None, parts: list[Any]
    ) -> Sequence[Any]:
        """Merge and predict in the worker thread (both can be slow); one prediction per row or an error."""
        predictions = await loop.run_in_executor(
            self._pool, self._merge_and_predict, columns, parts
        )
        rows = sum(len(part) for part in parts)
        if len(predictions) != rows:
            raise ValueError(f"the model returned {len(predictions)} predictions for {rows} rows")
        return predictions

    async def close(self) -> None:
        """Stop the loop and the worker thread."""
        if self._task is not None:
            self._task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
