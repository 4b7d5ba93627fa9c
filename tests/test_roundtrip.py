"""Property tests: params and metrics survive the trip through a run unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opskit

pytestmark = pytest.mark.trackers("local", "mlflow")

keys = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.\-]{0,20}\Z").filter(lambda k: ".." not in k)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
settings_ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(st.dictionaries(keys, json_values, max_size=8))
@settings_
def test_params_round_trip(params: dict[str, Any]) -> None:
    """Any JSON params logged to a run read back equal, with the same types."""
    with opskit.start_run(params=params) as run:
        pass
    stored = opskit.get_run(run.id).params
    assert stored == params
    assert {k: type(v) for k, v in stored.items()} == {k: type(v) for k, v in params.items()}


@given(
    st.dictionaries(
        keys,
        st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=6),
        min_size=1,
        max_size=4,
    )
)
@settings_
def test_metrics_round_trip(series: dict[str, list[float]]) -> None:
    """Every logged point comes back in step order; run.metrics holds each key's last value."""
    with opskit.start_run() as run:
        for key, values in series.items():
            for value in values:
                opskit.log_metric(key, value)
    stored = opskit.get_run(run.id)
    assert stored.metrics == {k: v[-1] for k, v in series.items()}
    for key, values in series.items():
        history = stored.metric_history(key)
        assert [p.value for p in history] == values
        assert [p.step for p in history] == list(range(len(values)))


@given(st.integers(1, 40), st.integers(0, 10**6))
@settings_
def test_array_fingerprint_depends_on_content_only(rows: int, seed: int) -> None:
    """Equal arrays get equal digests; any changed element changes the digest."""
    import numpy as np

    rng = np.random.default_rng(seed)
    arr = rng.normal(size=(rows, 3))
    from opskit._hooks import hooks

    first = hooks.fingerprint_data("X", arr)
    again = hooks.fingerprint_data("X", arr.copy())
    changed = arr.copy()
    changed[rows // 2, 1] += 1.0
    other = hooks.fingerprint_data("X", changed)
    assert first is not None and again is not None and other is not None
    assert first.digest == again.digest != other.digest
    assert first.shape == (rows, 3)


def test_dataframe_fingerprint_is_the_same_in_another_process() -> None:
    """A DataFrame's digest does not depend on the process (no hash seeds, no ids)."""
    import pandas as pd

    from conftest import run_python
    from opskit._hooks import hooks

    code = (
        "import pandas as pd\n"
        "df = pd.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', None], 'c': [0.5, 1.5, 2.5]})\n"
    )
    namespace: dict[str, Any] = {"pd": pd}
    exec(code, namespace)
    here = hooks.fingerprint_data("df", namespace["df"])
    out = run_python(
        code + "from opskit._hooks import hooks\nprint(hooks.fingerprint_data('df', df).digest)",
        env={"PYTHONHASHSEED": "123"},
    )
    assert here is not None and out.stdout.strip() == here.digest
