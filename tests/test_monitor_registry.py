"""Reference profiles stored at registration, and drift(reference="name@alias") from them, on both trackers."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import opskit
from opskit.errors import InvalidModelRef, ModelNotFound, ProfileNotFound
from opskit.monitor import ReferenceProfile
from opskit.monitor.profiles import DEFAULT_SKETCH_SIZE
from opskit.monitor.stored import PROFILE_KEY, reference_profile
from opskit.runtime import get_storage, get_tracker

pytestmark = [
    pytest.mark.trackers("local", "mlflow"),
    pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning"),
]

FEATURES = ["alcohol", "acidity", "quality", "colour", "sulphates"]


def wine(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """A wine-like frame: numeric, integer, categorical and partly-missing columns, plus a target."""
    rng = np.random.default_rng(seed)
    sulphates = rng.gamma(4.0, 0.15, size=n)
    sulphates[rng.random(n) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "alcohol": rng.normal(10.4 + shift, 1.1, size=n),
            "acidity": rng.lognormal(2.0, 0.2, size=n),
            "quality": rng.integers(3, 9, size=n),
            "colour": rng.choice(["red", "white", "rose"], size=n, p=[0.5, 0.4, 0.1]),
            "sulphates": sulphates,
        }
    )
    frame["target"] = (frame["alcohol"] > 10.4).astype(int)
    return frame


def _train(frame: pd.DataFrame, name: str = "wine", alias: str | None = "production") -> None:
    numeric = ["alcohol", "acidity", "quality"]

    @opskit.train(model=name, alias=alias)
    def fit(data: pd.DataFrame) -> LogisticRegression:
        return LogisticRegression(max_iter=200).fit(data[numeric], data["target"])

    fit(frame)


def test_train_stores_a_profile_of_the_signature_columns(tracker: str) -> None:
    """@opskit.train stores the training frame's profile (model's columns only) as a blob named in the version metadata."""
    frame = wine(30_000, 1)
    _train(frame)
    version = opskit.models.get_version("wine@production")
    entry = version.metadata[PROFILE_KEY]
    assert entry["rows"] == 30_000 and entry["columns"] == 3
    raw = get_storage().get_bytes(entry["digest"])
    assert len(raw) == entry["size_bytes"]
    prof = ReferenceProfile.from_json(gzip.decompress(raw).decode())
    assert list(prof.columns) == [
        "alcohol",
        "acidity",
        "quality",
    ]  # not the target, not unused ones
    assert entry["digest"] in get_tracker().referenced_digests()  # doctor --repair keeps it


@pytest.mark.parametrize("ref", ["wine@production", "wine:1", "wine"])
def test_drift_from_the_stored_profile_matches_drift_from_the_training_data(
    tracker: str, ref: str
) -> None:
    """drift(reference=name@alias / name:N / name) equals drift from the raw data within the documented sketch error."""
    frame = wine(30_000, 2)
    _train(frame)
    columns = ["alcohol", "acidity", "quality"]
    for live in (wine(5_000, 3), wine(5_000, 4, shift=0.8)):
        stored = opskit.monitor.drift(reference=ref, current=live)
        exact = opskit.monitor.drift(reference=frame[columns], current=live)
        assert stored.reference_source == f"profile of {ref}"
        assert list(stored.columns) == columns and stored.n_reference == 30_000
        for name in columns:
            a, b = stored.columns[name], exact.columns[name]
            bound = (
                1 / DEFAULT_SKETCH_SIZE + 1.5 / 30_000
            )  # docs/monitoring.md, "Approximation error"
            assert abs(a.statistics["ks"] - b.statistics["ks"]) <= bound
            assert a.statistics["wasserstein"] == pytest.approx(
                b.statistics["wasserstein"], abs=0.01
            )
            assert a.drifted == b.drifted
        assert stored.drifted_columns == exact.drifted_columns
    assert (
        opskit.monitor.drift(reference=ref, current=wine(5_000, 4, shift=0.8))
        .columns["alcohol"]
        .drifted
    )


def test_models_register_stores_a_profile_of_the_reference(tracker: str) -> None:
    """opskit.models.register(model, name, reference=X) and signature=X both store a profile."""
    frame = wine(2_000, 5)
    model = LinearRegression().fit(frame[["alcohol", "acidity"]], frame["target"])
    opskit.models.register(model, "reg", reference=frame, alias="prod")
    opskit.models.register(model, "reg", signature=frame[["alcohol", "acidity"]])
    for ref in ("reg@prod", "reg:2"):
        prof = reference_profile(ref)
        assert list(prof.columns) == ["alcohol", "acidity"] and prof.rows == 2_000
    assert opskit.monitor.drift(reference="reg:2", current=frame).drifted_columns == []


def test_a_column_without_values_is_left_out_of_the_stored_profile(tracker: str) -> None:
    """Registration never fails for monitoring: an all-missing column is left out (with a warning naming it), the rest profiled."""
    frame = wine(1_000, 6)
    frame["empty"] = np.nan
    model = LinearRegression().fit(frame[["alcohol"]], frame["target"])
    with pytest.warns(
        opskit.OpskitWarning, match="leaves out column 'empty' \\(no non-missing value\\)"
    ):
        opskit.models.register(model, "gappy", signature=frame[["alcohol", "empty"]])
    assert list(reference_profile("gappy").columns) == ["alcohol"]


def test_a_version_without_a_profile_is_a_clear_error(tracker: str) -> None:
    """A version registered from a NumPy array has no profile: ProfileNotFound says which version and how to get one."""
    frame = wine(500, 7)
    model = LinearRegression().fit(frame[["alcohol"]].to_numpy(), frame["target"])
    opskit.models.register(model, "bare", alias="prod", signature=frame[["alcohol"]].to_numpy())
    assert PROFILE_KEY not in opskit.models.get_version("bare:1").metadata
    with pytest.raises(ProfileNotFound, match=r"bare:1.*'bare@prod'.*reference=") as info:
        opskit.monitor.drift(reference="bare@prod", current=frame)
    assert isinstance(info.value, LookupError)
    assert opskit.models.get_version("bare@prod").version == 1  # nothing changed


def test_an_unknown_model_or_malformed_reference_names_the_value(tracker: str) -> None:
    """A string that is neither a path nor a registered model: ModelNotFound / InvalidModelRef naming it."""
    frame = wine(100, 8)
    with pytest.raises(ModelNotFound, match="'nosuch@production'"):
        opskit.monitor.drift(reference="nosuch@production", current=frame)
    with pytest.raises(InvalidModelRef, match="'bad name!'"):
        opskit.monitor.drift(reference="bad name!", current=frame)
