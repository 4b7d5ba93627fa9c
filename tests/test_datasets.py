"""Dataset versions on both trackers: log_data / load_data, dedup, aliases, references,
concurrent numbering across processes, ``data="snapshot"`` / ``"off"`` and ``run_inputs``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import opskit
from opskit.data import datasets as ds
from opskit.data.snapshots import run_inputs
from opskit.runtime import get_tracker

pytestmark = pytest.mark.trackers("local", "mlflow")


def _frame(seed: int = 0, rows: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "n": pd.array(rng.integers(0, 9, rows), dtype="Int64"),
            "c": pd.Categorical(rng.choice(["lo", "mid", "hi"], rows), ["lo", "mid", "hi"], True),
            "t": pd.date_range("2024-01-01", periods=rows, freq="h", tz="Europe/Paris"),
        },
        index=pd.Index(rng.permutation(rows) * 3, name="id"),
    )


def _blob_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in (store / "blobs").rglob("*") if p.is_file())


def _blob_path(store: Path, digest: str) -> Path:
    hexdigest = digest.split(":", 1)[1]
    return store / "blobs" / "sha256" / hexdigest[:2] / hexdigest[2:]


def test_log_and_load_a_frame_exactly(tracker: str) -> None:
    """log_data returns customers:1 whose digest is the run fingerprint; load_data gives the frame back exactly."""
    df = _frame()
    version = opskit.log_data("customers", df)
    assert (version.ref, version.format, version.kind) == ("customers:1", "parquet", "dataframe")
    assert version.digest.startswith("xxh3_128:") and version.blob.startswith("sha256:")
    assert version.shape == (50, 4) and version.schema is not None
    assert version.schema.names == ["x", "n", "c", "t"]
    for ref in ("customers", "customers:1", version):
        pd.testing.assert_frame_equal(opskit.load_data(ref), df)
    assert opskit.data.get_dataset_version("customers") == version
    assert "customers:1" in version.summary() and "customers:1" in version._repr_html_()


def test_same_content_returns_the_existing_version_and_stores_no_second_copy(
    tracker: str, store: Path
) -> None:
    """Logging equal content again (a copy) returns the same version; the blobs on disk do not grow."""
    first = opskit.log_data("customers", _frame())
    size = _blob_bytes(store)
    again = opskit.log_data("customers", _frame().copy())
    assert again == first
    assert _blob_bytes(store) == size
    changed = _frame()
    changed.iloc[3, 0] += 1.0
    second = opskit.log_data("customers", changed)
    assert second.version == 2 and second.digest != first.digest
    assert _blob_bytes(store) > size
    assert [v.version for v in opskit.data.get_dataset("customers").versions] == [1, 2]
    pd.testing.assert_frame_equal(opskit.load_data("customers:1"), _frame())
    pd.testing.assert_frame_equal(opskit.load_data("customers"), changed)


def test_arrays_series_files_and_directories(tracker: str, tmp_path: Path) -> None:
    """Arrays come back as .npy-exact arrays, series with their name, files and folders as paths with the same bytes."""
    arr = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    version = opskit.log_data("tensor", arr)
    assert version.format == "npy"
    back = opskit.load_data("tensor")
    assert back.dtype == arr.dtype and np.array_equal(back, arr)

    series = pd.Series(pd.array([1, None, 3], dtype="Int64"), name="clicks", index=[7, 8, 9])
    assert opskit.log_data("clicks", series).kind == "series"
    pd.testing.assert_series_equal(opskit.load_data("clicks"), series)

    data_file = tmp_path / "raw.csv"
    data_file.write_text("a,b\n1,2\n")
    file_version = opskit.log_data("raw", data_file)
    assert (file_version.format, file_version.size_bytes) == ("file", 8)
    loaded = opskit.load_data("raw")
    assert isinstance(loaded, Path) and loaded.read_text() == "a,b\n1,2\n"
    assert loaded != data_file and loaded.name == "raw.csv"

    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"\x00\x01")
    (folder / "sub" / "b.bin").write_bytes(b"bee")
    dir_version = opskit.log_data("images", str(folder))
    assert dir_version.format == "directory" and len(dir_version.blobs) == 3
    out = opskit.load_data("images")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.bin",
        "sub/b.bin",
    ]
    assert (out / "sub" / "b.bin").read_bytes() == b"bee"
    # every blob a version needs is kept alive by the tracker (doctor never deletes them)
    assert set(dir_version.blobs) <= get_tracker().referenced_digests()


def test_a_changed_cached_copy_is_fetched_again(tracker: str, tmp_path: Path) -> None:
    """Editing the file load_data returned does not change the dataset: the next load re-fetches it."""
    data_file = tmp_path / "raw.txt"
    data_file.write_text("original")
    opskit.log_data("raw", data_file)
    loaded = opskit.load_data("raw")
    loaded.chmod(0o644)
    loaded.write_text("edited by hand")
    assert opskit.load_data("raw").read_text() == "original"
    data_file.write_text("changed at the source")
    assert opskit.log_data("raw", data_file).version == 2
    assert opskit.load_data("raw:1").read_text() == "original"


def test_aliases_and_references(tracker: str) -> None:
    """Aliases move between versions; name@alias resolves; bad references and unknown names raise clearly."""
    one = opskit.log_data("prices", np.zeros(3))
    two = opskit.log_data("prices", np.ones(3), alias="production")
    assert two.aliases == ("production",)
    assert np.array_equal(opskit.load_data("prices@production"), np.ones(3))
    moved = opskit.data.set_alias("prices", "production", one)
    assert moved.aliases == ("production",)
    assert np.array_equal(opskit.load_data("prices@production"), np.zeros(3))
    assert opskit.data.get_dataset("prices").aliases == {"production": 1}
    opskit.data.delete_alias("prices", "production")
    with pytest.raises(opskit.DatasetNotFound, match="no alias 'production'"):
        opskit.load_data("prices@production")
    with pytest.raises(opskit.DatasetNotFound, match="no version 7"):
        opskit.load_data("prices:7")
    with pytest.raises(opskit.DatasetNotFound, match="no dataset named 'nope'"):
        opskit.load_data("nope")
    with pytest.raises(opskit.DatasetNotFound):
        opskit.data.set_alias("prices", "staging", 9)
    for bad in ("prices:0", "prices@", "", "a b", "prices:x"):
        with pytest.raises(opskit.InvalidDatasetRef, match="dataset reference"):
            opskit.load_data(bad)
    assert issubclass(opskit.InvalidDatasetRef, ValueError)
    with pytest.raises(opskit.InvalidName):
        opskit.log_data("bad/name", np.zeros(1))
    assert [d.name for d in opskit.data.list_datasets()] == ["prices"]


def test_unsupported_data_is_refused_and_records_nothing(tracker: str, store: Path) -> None:
    """MultiIndex columns, object arrays, complex columns and non-data values raise UnsupportedData; no version is recorded."""
    multi = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")]))
    cases = [
        (multi, "MultiIndex columns"),
        (pd.DataFrame({0: [1]}), "non-string column names"),
        (np.array([{"a": 1}, None], dtype=object), "pickle"),
        (pd.DataFrame({"z": np.array([1j, 2j])}), "Parquet"),
        ({"not": "data"}, "is not data opskit can store"),
        ("no/such/file.csv", "is not data opskit can store"),
    ]
    for value, message in cases:
        with pytest.raises(opskit.UnsupportedData, match=message) as info:
            opskit.log_data("bad", value)
        assert "dataset 'bad'" in str(info.value) and "Nothing was stored" in str(info.value)
    assert opskit.data.list_datasets() == []


_WORKER = """
import os, sys, time
from pathlib import Path
import numpy as np
import opskit
worker = int(sys.argv[1])
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
for i in range(3):
    print(opskit.log_data("shared", np.full(4, worker * 10 + i)).version, flush=True)
"""


def test_concurrent_processes_get_distinct_consecutive_versions(
    tracker: str, tmp_path: Path
) -> None:
    """Four processes logging different content to one dataset at once get versions 1..12, each once."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(w), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    time.sleep(1.0)  # let every worker import opskit and wait at the gate (not an assertion)
    go.touch()
    numbers = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        numbers += [int(line) for line in out.split()]
    assert sorted(numbers) == list(range(1, 13))
    versions = opskit.data.get_dataset("shared").versions
    assert [v.version for v in versions] == list(range(1, 13))
    assert len({v.digest for v in versions}) == 12


def test_snapshot_links_the_run_to_dataset_versions(tracker: str) -> None:
    """data='snapshot' logs each data argument as <model>.<arg> before the call and links the run's inputs to it."""
    seen: list[object] = []

    @opskit.train(model="churn", data="snapshot", datasets={"y": "labels"})
    def train(X: pd.DataFrame, y: np.ndarray, *, C: float = 1.0) -> dict[str, float]:
        seen.append(opskit.data.get_dataset_version("churn.X").ref)  # stored before the call
        return {"C": C}

    X, y = _frame(), np.arange(50) % 2
    train(X, y, C=0.5)
    run = opskit.last_run()
    assert run is not None
    links = {d.name: d.dataset for d in run.inputs}
    assert links == {"X": "churn.X:1", "y": "labels:1"}
    assert seen == ["churn.X:1"]
    x_version = opskit.data.get_dataset_version("churn.X:1")
    assert x_version.run_id == run.id
    assert x_version.digest == next(d.digest for d in run.inputs if d.name == "X")
    loaded = run_inputs(run.id)
    pd.testing.assert_frame_equal(loaded["X"], X)
    assert np.array_equal(loaded["y"], y)

    train(X.copy(), y, C=2.0)  # same data: the same versions, nothing new
    again = opskit.last_run()
    assert again is not None and again.id != run.id
    assert {d.name: d.dataset for d in again.inputs} == links
    assert len(opskit.data.get_dataset("churn.X").versions) == 1

    @opskit.track(data="fingerprint")
    def fingerprint_only(X: pd.DataFrame) -> None:
        pass

    fingerprint_only(X)
    plain = opskit.last_run()
    assert plain is not None
    (only,) = plain.inputs
    assert only.dataset is None and only.digest == x_version.digest  # lineage joins on this
    with pytest.raises(opskit.SnapshotMissing, match=r"'X'.*capture with data='snapshot'"):
        run_inputs(plain.id)


def test_snapshot_names_track_datasets_after_the_function(tracker: str) -> None:
    """@opskit.track(data='snapshot') names the dataset <function>.<arg>."""

    @opskit.track(data="snapshot")
    def explore(frame: pd.DataFrame) -> None:
        pass

    explore(_frame(3))
    run = opskit.last_run()
    assert run is not None and [d.dataset for d in run.inputs] == ["explore.frame:1"]


def test_snapshot_of_unsupported_data_stops_before_any_record(tracker: str) -> None:
    """An argument data='snapshot' cannot store raises UnsupportedData naming it; no run, no version, the function never ran."""
    called = []

    @opskit.track(data="snapshot")
    def fit(good: pd.DataFrame, bad: pd.DataFrame) -> None:
        called.append(True)

    with pytest.raises(opskit.UnsupportedData, match=r"data argument 'bad'.*data='fingerprint'"):
        fit(_frame(), pd.DataFrame({"z": np.array([1j])}))
    assert called == []
    assert opskit.data.list_datasets() == []
    assert len(opskit.search_runs()) == 0


def test_data_off_records_no_inputs(tracker: str) -> None:
    """data='off' records no data input (not even a digest) and stores nothing; params are still recorded."""

    @opskit.track(data="off")
    def fit(df: pd.DataFrame, *, alpha: float = 0.1) -> None:
        pass

    fit(_frame(), alpha=0.3)
    run = opskit.last_run()
    assert run is not None
    assert run.inputs == () and run.params == {"alpha": 0.3}
    assert opskit.data.list_datasets() == []
    with pytest.raises(opskit.InvalidValue, match="data='sometimes'"):
        opskit.track(data="sometimes")


def test_tampered_snapshot_is_refused(tracker: str, store: Path) -> None:
    """A changed Parquet blob, or a record pointing at other bytes, makes load_data and run_inputs raise BlobCorrupted."""

    @opskit.track(data="snapshot")
    def fit(df: pd.DataFrame) -> None:
        pass

    fit(_frame())
    run = opskit.last_run()
    assert run is not None
    version = opskit.data.get_dataset_version("fit.df")
    blob = _blob_path(store, version.blob)
    original = blob.read_bytes()
    blob.chmod(0o644)
    blob.write_bytes(original[:-20] + b"\0" * 20)
    with pytest.raises(opskit.BlobCorrupted, match="does not match its digest"):
        run_inputs(run.id)
    with pytest.raises(opskit.BlobCorrupted):
        opskit.load_data("fit.df")
    blob.write_bytes(original)
    # the record now names other (valid) bytes: the content check refuses them
    other = opskit.log_data("other", _frame(9))
    from opskit.serialize import to_plain

    forged = to_plain(version)
    forged["blob"] = other.blob
    get_tracker().put_state(ds.VERSION_KIND, version.ref, forged)
    with pytest.raises(opskit.BlobCorrupted, match=f"{version.ref} does not match its digest"):
        run_inputs(run.id)
