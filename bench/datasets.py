"""Dataset versions, side by side in one run: ``python bench/datasets.py [--quick]``.

For a numeric frame (16 float64 columns) and a mixed frame (1M rows: object strings, ``str``,
categories, nullable ints, naive and tz-aware datetimes, floats):

1. ``opskit.log_data`` of a **new** frame (fingerprint, Parquet, read back and fingerprint
   again to check the round trip, store the blob with its SHA-256), against what a DVC user
   does: ``df.to_parquet(path)`` and an MD5 of the file (``dvc add`` hashes with MD5).
2. ``opskit.log_data`` of the **unchanged** frame (a copy): one fingerprint and one lookup,
   no second copy (bytes on disk before/after are printed and asserted), against the DVC-style
   pipeline again (the script rewrites the file, so its hash is computed again).
3. ``opskit.load_data`` against ``pandas.read_parquet`` of the DVC-style file.

Each timing is the best of ``--repeat`` runs (3), in a fresh store under a temporary
directory. Memory stays bounded: each frame is freed before the next one is built.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MIB = 1 << 20


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def blob_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in (home / "blobs").rglob("*") if p.is_file())


def numeric_frame(size: int) -> pd.DataFrame:
    cols = 16
    rng = np.random.default_rng(0)
    return pd.DataFrame({f"f{i}": rng.random(size // (8 * cols)) for i in range(cols)})


def mixed_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    words = np.array([f"word{i}" for i in range(1000)], dtype=object)
    ints = rng.integers(0, 1000, rows)
    return pd.DataFrame(
        {
            "obj": pd.Series(words[ints], dtype=object),
            "text": pd.Series(words[ints[::-1]], dtype="str"),
            "cat": pd.Categorical(words[ints % 50]),
            "nint": pd.array(np.where(ints % 10 == 0, None, ints), dtype="Int64"),
            "when": pd.date_range("2020-01-01", periods=rows, freq="s"),
            "when_tz": pd.date_range("2020-01-01", periods=rows, freq="s", tz="Europe/Paris"),
            "x": rng.random(rows),
        }
    )


def dvc_style(df: pd.DataFrame, path: Path) -> str:
    """What a DVC user's script does: write the frame as Parquet, then ``dvc add`` hashes it (MD5)."""
    df.to_parquet(path)
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * MIB):
            h.update(chunk)
    return h.hexdigest()


def case(label: str, df: pd.DataFrame, tmp: Path, repeat: int) -> list[tuple[str, str, str]]:
    import opskit
    from opskit.capture.hashing import digest_frame

    nbytes = int(df.memory_usage(index=True, deep=True).sum())
    label = f"{label} ({nbytes / MIB:.0f} MiB in memory)"
    home = tmp / f"home-{abs(hash(label))}"
    opskit.configure(home=home)
    opskit.log_data("warmup", pd.DataFrame({"a": [1.0]}))  # plugins and store opened once
    base = blob_bytes(home)

    # a new frame each time: a one-cell change gives new content (the change is not timed)
    copies = []
    for i in range(repeat):
        changed = df.copy()
        changed.iloc[0, -1] = float(i + 1000)
        copies.append(changed)
    new_times = []
    for changed in copies:
        start = time.perf_counter()
        opskit.log_data("bench", changed)
        new_times.append(time.perf_counter() - start)
    t_new = min(new_times)
    del copies
    gc.collect()
    stored_one = (blob_bytes(home) - base) / repeat
    version = opskit.log_data("bench", df)
    before = blob_bytes(home)
    same = df.copy()
    t_same = best(lambda: opskit.log_data("bench", same), repeat)
    after = blob_bytes(home)
    assert after == before, (before, after)
    assert opskit.log_data("bench", same) == version

    t_fp = best(lambda: digest_frame(df), repeat)
    path = tmp / "dvc.parquet"
    t_dvc = best(lambda: dvc_style(df, path), repeat)
    parquet_size = path.stat().st_size
    t_load = best(lambda: opskit.load_data(version.ref), repeat)
    t_read = best(lambda: pd.read_parquet(path), repeat)
    path.unlink()
    opskit.reset_defaults()
    return [
        (label, "log_data, new frame", f"{t_new * 1e3:.0f} ms (stores {stored_one / MIB:.1f} MiB)"),
        (
            label,
            "DVC-style: to_parquet + MD5 of the file",
            f"{t_dvc * 1e3:.0f} ms (file {parquet_size / MIB:.1f} MiB): log_data ×{t_new / t_dvc:.2f} of it",
        ),
        (
            label,
            "log_data, unchanged frame (a copy)",
            f"{t_same * 1e3:.1f} ms, blobs on disk {before / MIB:.1f} MiB before and after: "
            f"×{t_dvc / t_same:.0f} faster than the DVC-style rewrite + hash",
        ),
        (label, "  of which: the fingerprint", f"{t_fp * 1e3:.1f} ms"),
        (
            label,
            "load_data (verified against the digest)",
            f"{t_load * 1e3:.0f} ms; pandas.read_parquet of the DVC-style file {t_read * 1e3:.0f} ms",
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke test of the bench, not results"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    size, rows = (16 * MIB, 20_000) if args.quick else (256 * MIB, 1_000_000)
    for var in [v for v in os.environ if v.startswith(("OPSKIT_", "MLFLOW_"))]:
        del os.environ[var]
    import pyarrow

    print(
        f"python {sys.version.split()[0]}, pandas {pd.__version__}, numpy {np.__version__}, "
        f"pyarrow {pyarrow.__version__}, {os.cpu_count()} cores\n"
    )
    out: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["OPSKIT_TRACKER"] = "local"
        frame: Any = numeric_frame(size)
        out += case("numeric frame, 16 float64 columns", frame, tmp, args.repeat)
        del frame
        gc.collect()
        frame = mixed_frame(rows)
        out += case(f"mixed frame, {rows:,} rows, 7 columns", frame, tmp, args.repeat)
        del frame
        gc.collect()
    print("| Case | Measurement | Result |\n|---|---|---|")
    for label, what, result in out:
        print(f"| {label} | {what} | {result} |")


if __name__ == "__main__":
    main()
