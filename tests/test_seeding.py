"""``opskit.seed`` and the ``seed=`` option; the function capture done once per function per process."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.capture import function as function_capture
from opskit.seeding import MAX_SEED


def _draws() -> tuple[float, float]:
    return random.random(), float(np.random.rand())


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=MAX_SEED))
def test_seed_makes_python_and_numpy_draws_repeat(n: int) -> None:
    """Any valid seed: the same draws from Python's random and NumPy's global generator after seeding again."""
    assert opskit.seed(n)[:2] == ("random", "numpy")
    first = _draws()
    opskit.seed(n)
    assert _draws() == first


@pytest.mark.parametrize("bad", [-1, MAX_SEED + 1, 1.5, "42", True, None, 2**70])
def test_invalid_seed_is_refused_with_the_value_named(bad: Any) -> None:
    """Seeds outside 0..2**32-1, floats, strings and bools raise InvalidValue naming the value; nothing is seeded."""
    random.seed(0)
    expected = random.random()
    random.seed(0)
    with pytest.raises(
        opskit.InvalidValue, match=repr(bad).replace("(", r"\(").replace(")", r"\)")
    ):
        opskit.seed(bad)
    assert random.random() == expected  # the generator was left alone
    if bad is not None:  # seed=None on a decorator means "do not seed"
        with pytest.raises(opskit.InvalidValue, match="seed must be an int"):
            opskit.track(seed=bad)
        with pytest.raises(opskit.InvalidValue, match="seed must be an int"):
            opskit.train(seed=bad)


def test_seed_inside_a_run_records_the_tag_and_outside_only_seeds() -> None:
    """opskit.seed in a run sets the tag opskit.seed; outside a run it seeds and records nothing."""
    opskit.seed(3)
    with opskit.start_run(name="seeded") as run:
        opskit.seed(9)
    assert opskit.get_run(run.id).tags["opskit.seed"] == "9"


def test_seed_option_seeds_before_each_call_and_records_it() -> None:
    """@track(seed=) / @train(seed=): every call starts from the same generator state; the run has the tag."""

    @opskit.track(seed=123)
    def sample() -> tuple[float, float]:
        return _draws()

    @opskit.train(model="seeded", seed=123, register=False)
    def fit() -> tuple[float, float]:
        return _draws()

    first = sample()
    random.random()  # the state moves between calls: the option seeds again
    assert sample() == first == fit()
    assert opskit.last_run().tags["opskit.seed"] == "123"  # type: ignore[union-attr]


def test_the_function_is_pickled_once_per_function_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three runs of one function: one cloudpickle call, the same blobs linked to each run; a redefinition is captured again."""
    import cloudpickle

    calls: list[object] = []
    real = cloudpickle.dumps

    def counting(obj: object, *args: Any, **kwargs: Any) -> bytes:
        calls.append(obj)
        return real(obj, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(cloudpickle, "dumps", counting)

    def make() -> Any:
        @opskit.track
        def step(*, x: int = 1) -> int:
            opskit.log_metric("x", x)
            return x

        return step

    step = make()
    for x in range(3):
        step(x=x)
    runs = opskit.search_runs()
    assert len(calls) == 1
    digests = {tuple(a.digest for a in r.artifacts) for r in runs}
    assert len(digests) == 1 and len(next(iter(digests))) == 2
    make()(x=5)  # a new function object: captured again
    assert len(calls) == 2


def test_an_unpicklable_function_still_runs_and_warns_once() -> None:
    """A function closing over a lock: every run finishes, one OpskitWarning per function, the reason tagged."""
    import threading
    import warnings

    lock = threading.Lock()

    @opskit.track
    def guarded(*, x: int = 1) -> int:
        with lock:
            return x

    function_capture.clear_cache()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [guarded(x=i) for i in range(3)] == [0, 1, 2]
    messages = [str(w.message) for w in caught if issubclass(w.category, opskit.OpskitWarning)]
    assert len(messages) == 1 and "guarded" in messages[0]
    for run in opskit.search_runs():
        assert run.status == "FINISHED"
        assert "lock" in run.tags["opskit.function.error"]
        assert [a.name for a in run.artifacts] == ["opskit/function.json"]


def test_a_storage_failure_during_the_capture_does_not_stop_training(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Storage down at capture: runs finish with the reason tagged, one warning; the next run after recovery captures."""
    import warnings

    from opskit.runtime import get_storage

    storage = get_storage()

    def down(data: bytes) -> Any:
        raise opskit.BackendUnavailable("storage is down for maintenance")

    @opskit.track
    def step(*, x: int = 1) -> int:
        return x

    with monkeypatch.context() as patched:
        patched.setattr(storage, "put_bytes", down)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert [step(x=i) for i in range(2)] == [0, 1]
    assert len([w for w in caught if issubclass(w.category, opskit.OpskitWarning)]) == 1
    failed = opskit.search_runs()
    assert len(failed) == 2
    assert all("down for maintenance" in r.tags["opskit.function.error"] for r in failed)
    step(x=2)  # the storage is back: the failure was not cached
    last = opskit.last_run()
    assert last is not None and "opskit.function.error" not in last.tags
    assert [a.name for a in last.artifacts] == ["opskit/function.pkl", "opskit/function.json"]


def test_one_function_decorated_twice_keeps_each_decorations_options() -> None:
    """The capture is per decoration: the same function under two decorators stores two option sets."""
    import cloudpickle

    from opskit.runtime import get_storage

    def body(*, x: int = 1) -> int:
        return x

    opskit.track(seed=1)(body)(x=1)
    first = opskit.last_run()
    opskit.track(seed=2)(body)(x=1)
    second = opskit.last_run()
    assert first is not None and second is not None
    seeds = []
    for run in (first, second):
        (pickled,) = [a for a in run.artifacts if a.name == "opskit/function.pkl"]
        seeds.append(cloudpickle.loads(get_storage().get_bytes(pickled.digest)).options.seed)
    assert seeds == [1, 2]
