"""What storing a reference profile adds to a registration: ``python bench/registration_profile.py``.

Registers a linear model trained on a 100,000 × 20 frame (18 float columns, one
integer, one categorical) with ``opskit.models.register``, ``--repeat`` times with
the profile (``reference=frame``) and as many times without, on the local store in a
temporary directory, alternating the two so the machine's load hits both alike. Prints
JSON: median seconds per registration each way, the added cost, and the stored
profile's size (gzipped JSON blob and the JSON it holds).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f"x{i}": rng.normal(i, 1 + i / 10, rows) for i in range(18)}
    data["count"] = rng.poisson(5, rows)
    data["colour"] = rng.choice(["red", "white", "rose", "orange"], rows)
    return pd.DataFrame(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["OPSKIT_HOME"] = home
        import opskit
        from opskit.monitor.stored import PROFILE_KEY, build_profile
        from opskit.runtime import get_storage

        data = frame(args.rows)
        numeric = [c for c in data.columns if c != "colour"]
        model = LinearRegression().fit(data[numeric], data["x0"])
        # The signature (and so the profile) covers all 20 columns, the categorical one too.
        times: dict[str, list[float]] = {"with_profile": [], "without_profile": []}
        opskit.models.register(model, "warmup", signature=data)  # imports, store creation
        schema = opskit.models.get_version("warmup").signature
        for _ in range(args.repeat):
            for case, reference in (("with_profile", data), ("without_profile", None)):
                start = time.perf_counter()
                opskit.models.register(model, f"m-{case}", signature=schema, reference=reference)
                times[case].append(time.perf_counter() - start)
        entry = opskit.models.get_version("m-with_profile").metadata[PROFILE_KEY]
        blob = get_storage().get_bytes(entry["digest"])
        profile_times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            build_profile(data, None)
            profile_times.append(time.perf_counter() - start)
        profile_only = statistics.median(profile_times)
        with_p = statistics.median(times["with_profile"])
        without_p = statistics.median(times["without_profile"])
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    "columns": data.shape[1],
                    "repeat": args.repeat,
                    "median_s_with_profile": round(with_p, 4),
                    "median_s_without_profile": round(without_p, 4),
                    "added_s": round(with_p - without_p, 4),
                    "profile_only_s": round(profile_only, 4),
                    "blob_bytes_gzipped": len(blob),
                    "json_bytes": len(gzip.decompress(blob)),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
