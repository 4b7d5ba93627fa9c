"""Monitoring walkthrough: train, deploy, log predictions and labels, check drift, performance, fairness.

The same code, step by step, is the walkthrough at the top of docs/monitoring.md
(tests/test_monitoring_walkthrough.py checks that the two are identical and runs
this file). Run it with ``python examples/monitoring.py`` with opskit's
``monitor``, ``sklearn`` and ``serve`` extras and httpx installed (in a clone:
``pip install -e '.[monitor,sklearn,serve]' httpx``); it uses the store at
``$OPSKIT_HOME`` (``.opskit/`` by default), serves on 127.0.0.1 and stops the
server it starts.
"""

# walkthrough: 1. train and register a model on the quickstart's wine data
import subprocess
import sys
import time

import httpx  # any HTTP client; httpx is what opskit's tests use
import numpy as np
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import opskit
from opskit import gates

X, y = load_wine(return_X_y=True, as_frame=True)
# The wine data has no sensitive attribute; a made-up `region` (0 or 1) stands in for one,
# so that fairness() has a column to group by. It is a model input, so it is logged.
X["region"] = np.arange(len(X)) % 2
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)


@opskit.train(model="wine", alias="staging", evaluate=("X_test", "y_test"), metrics=["accuracy"])
def train(
    X_train: pd.DataFrame, y_train: pd.Series, X_test: pd.DataFrame, y_test: pd.Series
) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=50, max_depth=5, random_state=0).fit(
        X_train, y_train
    )


train(X_train, y_train, X_test, y_test)  # registers wine:1, with a profile of X_train
version = opskit.models.get_version("wine@staging")
print(f"registered {version.ref}, profile stored: {'reference_profile' in version.metadata}")

# walkthrough: 2. point the alias `production` at it
# or: opskit.models.set_alias("wine", "production", 1); in a shell: opskit models promote wine:1 production
opskit.models.promote(version.ref, "production")
print("wine@production is", opskit.models.get_version("wine@production").ref)

# walkthrough: 3. deploy it under the name `wine-prod` (a local server on 127.0.0.1)
dep = opskit.deploy("wine@production", name="wine-prod")
print(f"deployed {dep.name}: {dep.status()}")

# (example only, not in the docs) stop the server even if a later step fails
import atexit  # noqa: E402

atexit.register(opskit.deployments.stop, "wine-prod")

# walkthrough: 4. send requests: with the client, or any HTTP client to read the request id
since = pd.Timestamp.now(
    tz="UTC"
)  # this session's requests come after it (relative, never a fixed date)
print("client predictions:", dep.predict(X_test.head(3)))
rows = X_test.to_dict(orient="records")  # 45 records
answer = httpx.post(f"{dep.url}/predict", json=rows, timeout=60)
answer.raise_for_status()
request_id = answer.headers["x-request-id"]  # keep it to log the labels later
print(f"scored {len(answer.json()['predictions'])} rows in request {request_id}")


# walkthrough: 5. read the prediction log (the server writes it in batches, about once a second)
def wait_for_log(count: int, since: pd.Timestamp) -> pd.DataFrame:
    """The prediction log since *since*, once it holds *count* rows (at most 60 s)."""
    deadline = time.monotonic() + 60
    log = opskit.monitor.predictions("wine-prod", since=since)
    while len(log) < count and time.monotonic() < deadline:
        time.sleep(0.5)
        log = opskit.monitor.predictions("wine-prod", since=since)
    return log


log = wait_for_log(3 + len(rows), since)
print(f"{len(log)} rows logged; columns: {list(log.columns)}")
print(
    log[["request_id", "row", "ts", "variant", "version", "alcohol", "prediction"]]
    .tail(3)
    .to_string()
)

# walkthrough: 6. log the labels when they arrive (here: at once), by request id
done = opskit.monitor.log_labels("wine-prod", [request_id] * len(rows), y_test.tolist())
print(f"labels stored: {done.stored}, matched: {done.matched}, unknown: {done.unknown}")

# walkthrough: 7. performance and fairness over the labelled predictions
# window=None: one window over [since, now); window="1d" gives one per UTC day
perf = opskit.monitor.performance(
    "wine-prod", window=None, since=since, thresholds=[gates.at_least("accuracy", 0.8)]
)
w = perf.windows[-1]
print(f"accuracy {w.metrics['accuracy']:.2f} on {w.count} rows, degraded: {perf.any_degraded}")
print(f"window start {w.start} ({type(w.start).__name__}: epoch seconds, UTC)")
fair = opskit.monitor.fairness("wine-prod", column="region", window=None, since=since)
print("accuracy by region:", fair.windows[-1].by_group["accuracy"])

# walkthrough: 8. drift of the logged inputs against the profile stored with wine:1
report = opskit.monitor.drift(reference="wine@production", current=log)
print(f"drift: {report.drifted}, drifted columns: {report.drifted_columns}")
print(f"not compared (not model inputs): {report.ignored_columns}")

# walkthrough: 9. `opskit monitor check` twice: healthy traffic, then shifted traffic
# in a shell: opskit monitor check wine-prod --at-least accuracy=0.8
check = [sys.executable, "-m", "opskit.cli.main", "monitor", "check", "wine-prod"]
check += ["--at-least", "accuracy=0.8"]
first = subprocess.run(check, capture_output=True, text=True)  # rows not checked yet
print(first.stdout.strip())
print(f"first check: exit status {first.returncode} (0: no drift, no breached threshold)")

shifted = X_test.drop(columns="region") * 1.5  # every measurement 50 % larger
shifted["region"] = X_test["region"]
dep.predict(shifted)
wait_for_log(len(log) + len(shifted), since)
second = subprocess.run(check, capture_output=True, text=True)  # takes only the new rows
print(second.stdout.strip())
print(f"second check: exit status {second.returncode} (1: drift or a breached threshold)")

# walkthrough: 10. stop the deployment
dep.stop()
print(f"{dep.name}: {opskit.deployments.get('wine-prod').state}")
