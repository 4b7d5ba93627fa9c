"""Quickstart: train, validate, register, reload and predict, on the embedded local store.

Run it with ``nox -s demo`` (or ``python examples/quickstart.py`` with opskit and
scikit-learn installed). Nothing to configure: runs and models go to ``.opskit/``
at the project root (or ``$OPSKIT_HOME``).
"""

from __future__ import annotations

import warnings

import pandas as pd
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import opskit
from opskit import checks, gates


@opskit.train(
    model="wine",
    alias="staging",
    # data checks run on the data arguments before training
    checks=[
        checks.not_null(),
        checks.between("alcohol", 0, 20),
        checks.row_count(min=100, on="X_train"),
    ],
    # the returned model (and the current wine@staging) are scored on the held-out arguments
    evaluate=("X_test", "y_test"),
    metrics=["accuracy", "f1_macro"],
    # a model is registered, and the alias moved, only when every gate passes
    gates=[gates.at_least("accuracy", 0.8), gates.beats("staging", "f1_macro")],
)
def train(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    *,
    n_estimators: int = 100,
    max_depth: int | None = None,
) -> RandomForestClassifier:
    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)
    model.fit(X_train, y_train)
    opskit.log_metrics(
        {"train_acc": model.score(X_train, y_train), "test_acc": model.score(X_test, y_test)}
    )
    return model


def main() -> None:
    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )

    model = train(X_train, y_train, X_test, y_test, n_estimators=50, max_depth=5)
    run = opskit.last_run()
    assert run is not None
    print(run.summary())
    print()
    assert run.validation is not None
    print(run.validation.summary())
    print()

    # A much weaker challenger: its gates fail, so nothing is registered and
    # wine@staging stays where it was (the run is kept, with its report).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(X_train, y_train, X_test, y_test, n_estimators=1, max_depth=1)
    rejected = opskit.last_run()
    assert rejected is not None and rejected.validation is not None
    print(rejected.validation.summary())
    warned = [str(w.message) for w in caught if w.category is opskit.ValidationWarning]
    print("ValidationWarning: " + warned[0].splitlines()[0])
    print()

    staged = opskit.load_model("wine@staging")
    same = (staged.predict(X_test) == model.predict(X_test)).all()
    version = opskit.models.get_version("wine@staging")
    print(
        f"loaded {version.ref} (wine@staging): predictions identical to the trained model: {same}"
    )
    print(f"first five predictions: {[int(p) for p in staged.predict(X_test.head())]}")
    print()
    print("registered models:")
    for registered in opskit.models.list():
        print("  " + registered.summary())
    if not same:
        raise SystemExit("the reloaded model predicts differently")


if __name__ == "__main__":
    main()
