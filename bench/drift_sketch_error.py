"""How far sketch-based drift statistics are from the exact ones: ``python bench/drift_sketch_error.py``.

For several distributions, sizes and shifts, compares ``drift(reference=profile(ref))``
(and the current data streamed from Parquet) with ``drift(reference=ref)`` and prints the
largest absolute differences of KS D, normalised Wasserstein and PSI as JSON (the
heavy-tailed column, Student t with 2 degrees of freedom, separately).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import opskit


def columns(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "normal": rng.normal(shift, 1.0, n),
            "lognormal": rng.lognormal(shift, 0.8, n),
            "bimodal": np.where(
                rng.random(n) < 0.3 + shift / 4, rng.normal(-2, 0.5, n), rng.normal(2, 1, n)
            ),
            "integers": rng.poisson(4 + 4 * shift, n).astype(float),
            "heavy_tail": rng.standard_t(2, n) + shift,
        }
    )


def main() -> None:
    rng = np.random.default_rng(13)
    worst: dict[str, dict[str, float]] = {
        "profile": {"verdict_mismatches": 0},
        "profile+parquet": {"verdict_mismatches": 0},
    }
    cases = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n_ref, n_cur in ((100_000, 10_000), (500_000, 100_000), (20_000, 20_000)):
            ref = columns(rng, n_ref, 0.0)
            prof = opskit.monitor.profile(ref)
            for shift in (0.0, 0.02, 0.1, 0.5):
                cur = columns(rng, n_cur, shift)
                path = Path(tmp) / "cur.parquet"
                pq.write_table(pa.Table.from_pandas(cur, preserve_index=False), path)
                exact = opskit.monitor.drift(ref, cur)
                for label, approx in (
                    ("profile", opskit.monitor.drift(prof, cur)),
                    ("profile+parquet", opskit.monitor.drift(prof, path)),
                ):
                    for name in ref.columns:
                        e, a = exact.columns[name].statistics, approx.columns[name].statistics
                        for key in ("ks", "wasserstein", "psi"):
                            err = abs(a[key] - e[key])
                            slot = f"{key} ({'heavy tail' if name == 'heavy_tail' else 'other columns'})"
                            worst[label][slot] = max(worst[label].get(slot, 0.0), err)
                    if approx.drifted_columns != exact.drifted_columns:
                        worst[label]["verdict_mismatches"] = (
                            worst[label].get("verdict_mismatches", 0) + 1
                        )
                cases += 1
    result: dict[str, Any] = {
        "cases": cases,
        "columns_per_case": 5,
        "sketch_size": 2000,
        "max_abs_error": worst,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
