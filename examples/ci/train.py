"""The training script the CI examples run: a wine classifier with data checks and two gates.

``python examples/ci/train.py`` trains with the hyperparameters in ``params.json`` (next to
this file: a pull request that changes them changes the model). The data checks run before
training; the gates run on the held-out split after it. A model that passes every gate is
registered and gets the alias named by ``OPSKIT_ALIAS`` (``staging`` unless set; the workflows
use ``production`` on the main branch). A model that fails a gate is not registered, the alias
stays where it was, and the script still exits 0: the verdict is ``opskit ci check``'s job.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import opskit
from opskit import checks, gates

PARAMS: dict[str, Any] = json.loads((Path(__file__).with_name("params.json")).read_text())
MIN_ACCURACY = float(os.environ.get("MIN_ACCURACY", "0.90"))


@opskit.train(
    model="wine",
    alias=os.environ.get("OPSKIT_ALIAS", "staging"),
    checks=[
        checks.not_null(),
        checks.between("alcohol", 10, 16),
        checks.row_count(min=100, on="X_train"),
    ],
    evaluate=("X_test", "y_test"),
    metrics=["accuracy", "f1_macro"],
    gates=[
        gates.at_least("accuracy", MIN_ACCURACY),
        gates.beats("production", "f1_macro"),  # the current wine@production, on the same data
    ],
)
def train(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    *,
    C: float = 1.0,
    max_iter: int = 1000,
) -> Pipeline:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    return model.fit(X_train, y_train)


if __name__ == "__main__":
    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    train(X_train, y_train, X_test, y_test, **PARAMS)
    run = opskit.last_run()
    assert run is not None
    print(f"run {run.id}: validation {run.verdict}")
