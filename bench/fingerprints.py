"""Fingerprint speed, side by side in one run: ``python bench/fingerprints.py [--quick]``.

1. A 1 GiB numeric DataFrame through the ``fingerprint_data`` hook (what a decorated
   function does with a DataFrame argument), against MD5 (DVC's hash) and a raw xxh3-128
   pass over the same column buffers in the same process, and against the previous opskit
   path (``pandas.util.hash_pandas_object`` + SHA-256, kept below as ``legacy_digest``).
2. A mixed-type frame (1M rows: object strings, ``str``, categories, nullable ints,
   naive and tz-aware datetimes, floats): GB/s and the ratio to the previous path.
3. A 2 GiB file: the first process reads it in full; a second, new process finds it
   in the stat cache (``<home>/cache/stat.db``).

Each timing is the best of ``--repeat`` runs (5), after one call that loads the plugins. Sizes: ``pandas.DataFrame.memory_usage(deep=True)``.
Memory stays bounded: each frame is freed before the next one is built.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xxhash

GIB = 1 << 30


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def legacy_digest(obj: Any) -> str:
    """opskit's fingerprint before xxh3: hash_pandas_object (+ pickle for unhashable cells) and SHA-256."""
    h = hashlib.sha256()
    h.update(repr((type(obj).__name__, obj.shape)).encode())
    h.update(repr([(str(c), str(t)) for c, t in obj.dtypes.items()]).encode())
    try:
        h.update(pd.util.hash_pandas_object(obj, index=True).to_numpy().tobytes())
    except TypeError:
        h.update(pickle.dumps(obj, protocol=5))
    return "sha256:" + h.hexdigest()


def column_buffers(df: pd.DataFrame) -> list[np.ndarray]:
    return [np.ascontiguousarray(df.iloc[:, i].to_numpy()) for i in range(df.shape[1])]


def fingerprint(df: pd.DataFrame) -> str:
    from opskit._hooks import hooks

    data = hooks.fingerprint_data("df", df)
    assert data is not None
    return data.digest


def numeric(size: int, repeat: int) -> list[tuple[str, str, str]]:
    cols = 16
    rows = size // (8 * cols)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"f{i}": rng.random(rows) for i in range(cols)})
    nbytes = int(df.memory_usage(index=True, deep=True).sum())
    buffers = column_buffers(df)

    def md5() -> None:
        h = hashlib.md5()
        for b in buffers:
            h.update(b)

    def raw_xxh3() -> None:
        h = xxhash.xxh3_128()
        for b in buffers:
            h.update(b)

    fingerprint(pd.DataFrame({"a": [1.0]}))  # load the plugins once, as any first call does
    t_md5, t_raw = best(md5, repeat), best(raw_xxh3, repeat)
    t_ours = best(lambda: fingerprint(df), repeat)
    t_old = best(lambda: legacy_digest(df), max(1, repeat - 1))
    gbs = lambda t: f"{nbytes / t / 1e9:.2f} GB/s"  # noqa: E731
    label = f"{nbytes / GIB:.2f} GiB numeric frame ({cols} float64 columns)"
    return [
        (label, "opskit fingerprint (hook)", f"{gbs(t_ours)} ({t_ours * 1e3:.0f} ms)"),
        (
            label,
            "MD5, same buffers (DVC's hash)",
            f"{gbs(t_md5)}: opskit ×{t_md5 / t_ours:.1f} faster",
        ),
        (
            label,
            "raw xxh3-128, same buffers (the limit)",
            f"{gbs(t_raw)}: opskit at {t_raw / t_ours:.0%} of it",
        ),
        (
            label,
            "previous opskit path (hash_pandas_object + SHA-256)",
            f"{gbs(t_old)}: opskit ×{t_old / t_ours:.1f} faster",
        ),
    ]


def mixed(rows: int, repeat: int) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(1)
    words = np.array([f"word{i}" for i in range(1000)], dtype=object)
    ints = rng.integers(0, 1000, rows)
    df = pd.DataFrame(
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
    nbytes = int(df.memory_usage(index=True, deep=True).sum())
    from opskit.capture.hashing import digest_frame

    t_ours = best(lambda: fingerprint(df), repeat)
    t_py = best(lambda: digest_frame(df, use_arrow=False), 1)
    t_old = best(lambda: legacy_digest(df), repeat)
    label = f"mixed frame, {rows:,} rows, 7 columns ({nbytes / 1e6:.0f} MB deep)"
    return [
        (
            label,
            "opskit fingerprint (hook, Arrow)",
            f"{nbytes / t_ours / 1e9:.2f} GB/s ({t_ours * 1e3:.0f} ms)",
        ),
        (
            label,
            "previous opskit path",
            f"{nbytes / t_old / 1e9:.2f} GB/s: opskit ×{t_old / t_ours:.1f} faster",
        ),
        (
            label,
            "opskit without pyarrow (fallback)",
            f"{nbytes / t_py / 1e9:.3f} GB/s: ×{t_ours / t_py:.2f} of the Arrow path",
        ),
    ]


_CHILD = """
import sys, time
from pathlib import Path
start = time.perf_counter()
import opskit, opskit.config  # a training process has these imported already
from opskit.capture.filecache import digest_file
imported = time.perf_counter()
digest, size = digest_file(Path(sys.argv[1]))
print(digest, time.perf_counter() - imported, imported - start)
"""


def file_cache(size: int, repeat: int) -> list[tuple[str, str, str]]:
    from opskit.capture.filecache import RACY_WINDOW_NS, StatCache, digest_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "big.bin")
        block = os.urandom(64 << 20)
        with open(path, "wb") as fh:
            for _ in range(size // len(block)):
                fh.write(block)
        del block
        time.sleep(RACY_WINDOW_NS / 1e9 + 0.2)  # older than the racy window, so it may be cached
        env = {**os.environ, "OPSKIT_HOME": str(Path(tmp, ".opskit"))}

        def run_child() -> tuple[str, float, float]:
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path)],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            digest, seconds, import_seconds = out.stdout.split()
            return digest, float(seconds), float(import_seconds)

        first, t_first, _ = (
            run_child()
        )  # reads the whole file (warm page cache: it was just written)
        seconds, imports = [], []
        for _ in range(max(3, repeat)):
            again, t, t_import = run_child()
            assert again == first
            seconds.append(t)
            imports.append(t_import)
        t_hit, t_import = min(seconds), min(imports)
        t_read = best(lambda: digest_file(path, StatCache(None)), repeat)

        def md5_read() -> None:
            h = hashlib.md5()
            with open(path, "rb") as fh:
                while chunk := fh.read(8 << 20):
                    h.update(chunk)

        t_md5 = best(md5_read, 1)
    label = f"{size / GIB:g} GiB file"
    return [
        (
            label,
            "first process: full read + xxh3-128",
            f"{t_first * 1e3:.0f} ms ({size / t_first / 1e9:.2f} GB/s, page cache warm)",
        ),
        (
            label,
            "second process: stat cache hit",
            f"{t_hit * 1e3:.2f} ms (the `digest_file` call: config, open stat.db, stat, lookup): ×{t_read / t_hit:,.0f} faster than a full read",
        ),
        (
            label,
            "second process: `import opskit, opskit.config`",
            f"{t_import * 1e3:.0f} ms (once per process, not per file)",
        ),
        (
            label,
            "full read + xxh3-128, in process",
            f"{t_read * 1e3:.0f} ms ({size / t_read / 1e9:.2f} GB/s)",
        ),
        (
            label,
            "full read + MD5 (DVC without its cache)",
            f"{t_md5 * 1e3:.0f} ms ({size / t_md5 / 1e9:.2f} GB/s)",
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke test of the bench, not results"
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    frame_size, rows, file_size = (
        (32 << 20, 20_000, 128 << 20) if args.quick else (GIB, 1_000_000, 2 * GIB)
    )
    import pyarrow
    import xxhash as _x

    print(
        f"python {sys.version.split()[0]}, pandas {pd.__version__}, numpy {np.__version__}, pyarrow {pyarrow.__version__}, xxhash {_x.VERSION}, {os.cpu_count()} cores\n"
    )
    rows_out = numeric(frame_size, args.repeat)
    gc.collect()  # the 1 GiB frame is gone before the next one is built
    rows_out += mixed(rows, args.repeat)
    gc.collect()
    rows_out += file_cache(file_size, args.repeat)
    print("| Case | Measurement | Result |\n|---|---|---|")
    for case, what, result in rows_out:
        print(f"| {case} | {what} | {result} |")


if __name__ == "__main__":
    main()
