"""False alarms and power of the default drift rule: ``python bench/drift_false_alarms.py [--reports 200]``.

Draws pairs of samples from one distribution (five columns: normal, exponential,
integer, categorical, numeric with 10 % missing) and counts reports that flag any
column; then the share of reports that catch a real shift (0.5σ on one numeric column,
a changed category mix). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pandas as pd

import opskit


def frame(rng: np.random.Generator, n: int, shift: float = 0.0, mix: float = 0.0) -> pd.DataFrame:
    p = np.array([0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05])
    p = (1 - mix) * p + mix * p[::-1]
    return pd.DataFrame(
        {
            "normal": rng.normal(shift, 1, n),
            "exponential": rng.exponential(size=n),
            "integer": rng.integers(0, 5, size=n),
            "category": rng.choice(list("abcdefgh"), n, p=p),
            "with_missing": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=200)
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    rng = np.random.default_rng(2026)
    out: dict[str, dict[str, float]] = {}
    for n in (100, 300, 1000, 3000, 30_000):
        reports = args.reports if n <= 3000 else max(args.reports // 10, 5)
        alarms = flagged_columns = caught_shift = caught_mix = 0
        for _ in range(reports):
            report = opskit.monitor.drift(frame(rng, n), frame(rng, n))
            alarms += bool(report.drifted_columns)
            flagged_columns += len(report.drifted_columns)
            shifted = opskit.monitor.drift(frame(rng, n), frame(rng, n, shift=0.5, mix=0.5))
            caught_shift += shifted.columns["normal"].drifted
            caught_mix += shifted.columns["category"].drifted
        out[str(n)] = {
            "reports": reports,
            "reports_with_a_false_alarm": alarms / reports,
            "false_alarm_rate_per_column": flagged_columns / (reports * 5),
            "power_0.5_sigma_shift": caught_shift / reports,
            "power_category_mix_change": caught_mix / reports,
        }
        print(json.dumps({n: out[str(n)]}), flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
