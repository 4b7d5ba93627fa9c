"""Talking to deployments: the thin ``DeploymentClient`` that ``opskit.deploy()`` and
``opskit.deployments.get()`` return, and the HTTP request it sends.

The record (``opskit.records.Deployment``) is data only; everything here does I/O:
it asks the target (``status``, ``logs``, ``stop``), the server (``predict``) or the
prediction log (``predictions``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from attrs import frozen

from opskit.coerce import json_cell, sent_values
from opskit.errors import DeploymentError
from opskit.records.deployments import Deployment
from opskit.serialize import to_plain

if TYPE_CHECKING:
    from opskit.registry.events import RegistryEvent

__all__ = ["STATE_KIND", "DeploymentClient", "get_target", "predict", "request_body", "save"]

#: The tracker state kind deployments are kept under.
STATE_KIND = "deployment"


def get_target(name: str) -> Any:
    """An instance of the target registered as *name* (``UnknownBackend`` lists the installed ones)."""
    from opskit.runtime import get_config, get_registry

    return get_registry().get("target", name).factory(get_config())


def save(
    deployment: Deployment, *, before: Mapping[str, Any] | None = None, stopped: bool = False
) -> RegistryEvent:
    """Store the record of *deployment* (where *before* was stored) with its registry event, in one transaction.

    Returns the event, from which the caller fires the hook after the commit.
    """
    from opskit.registry.events import deployment_changed
    from opskit.runtime import get_tracker
    from opskit.sdk import identity

    event = deployment_changed(before, deployment, user=identity.user(), stopped=stopped)
    get_tracker().put_state(STATE_KIND, deployment.name, to_plain(deployment), event=event)
    return event


# One cell / one column as a JSON client sends it: the rules live in opskit.coerce, which the data
# check ``matches_schema`` uses too (so a frame it refuses is refused by a deployment with the same message).
_plain = json_cell
_column = sent_values


def request_body(data: Any) -> dict[str, Any]:
    """The ``/invocations`` document for *data*, with every value exact (floats unrounded, timestamps in full)."""
    if isinstance(data, dict):
        return {"dataframe_records": [{str(k): _plain(v) for k, v in data.items()}]}
    if isinstance(data, list | tuple):
        if data and all(isinstance(r, dict) for r in data):
            return {"dataframe_records": [{str(k): _plain(v) for k, v in r.items()} for r in data]}
        return {"inputs": [_plain(r) for r in data]}
    module = type(data).__module__.split(".", 1)[0]
    kind = type(data).__name__
    if module == "pandas" and kind == "Series":
        data = data.to_frame()
        kind = "DataFrame"
    if module == "pandas" and kind == "DataFrame":
        columns = [_column(data.iloc[:, j]) for j in range(data.shape[1])]
        rows = (
            [list(row) for row in zip(*columns, strict=True)]
            if columns
            else [[] for _ in range(len(data))]
        )
        return {"dataframe_split": {"columns": [str(c) for c in data.columns], "data": rows}}
    if module == "numpy" and kind == "ndarray":
        if data.dtype.kind in "fiub":
            return {"inputs": _plain(data.tolist())}
        return {"inputs": _plain(data.astype(object).tolist())}
    raise DeploymentError(
        f"cannot send a {type(data).__qualname__} to a deployment; pass a pandas DataFrame or Series, a NumPy array, "
        "a list of records (dicts) or a list of rows"
    )


def predict(deployment: Deployment, data: Any, *, timeout: float = 60.0) -> list[Any]:
    """Score *data* on *deployment*'s server over HTTP, sent exactly (no rounding); returns the predictions."""
    self = deployment
    if self.url is None:
        raise DeploymentError(
            f"deployment {self.name!r} ({self.target}) has no URL to send requests to"
        )
    from opskit.deployments.auth import client_token

    body = json.dumps(request_body(data)).encode()
    headers = {"Content-Type": "application/json"}
    token = client_token(self.name, self.options)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{self.url}/invocations", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            predictions: list[Any] = json.loads(response.read())["predictions"]
            return predictions
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise DeploymentError(
            f"deployment {self.name!r} rejected the request ({exc.code}): {detail}"
        ) from None
    except OSError as exc:
        raise DeploymentError(
            f"deployment {self.name!r} at {self.url} is not reachable ({exc}); "
            f"check `opskit deployments show {self.name}` and its logs"
        ) from None


@frozen(eq=False)
class DeploymentClient(Deployment):
    """A ``Deployment`` record that can talk to its target and server (what ``opskit.deploy()`` returns).

    It has exactly the record's fields, compares equal to the record with the same
    values, and ``record`` gives the plain record.
    """

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Deployment):
            return NotImplemented
        return attrs.astuple(self, recurse=False) == attrs.astuple(other, recurse=False)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self.record)

    @classmethod
    def of(cls, record: Deployment) -> DeploymentClient:
        """The client for *record*."""
        if isinstance(record, cls):
            return record
        return cls(**{f.name: getattr(record, f.name) for f in attrs.fields(Deployment)})

    @property
    def record(self) -> Deployment:
        """The plain data record."""
        return Deployment(**{f.name: getattr(self, f.name) for f in attrs.fields(Deployment)})

    def status(self) -> str:
        """Live status from the target: ``running``, ``starting``, ``stopped``, ``built``, ..."""
        status: str = get_target(self.target).status(self.record)
        return status

    def stop(self) -> DeploymentClient:
        """Stop serving (the record stays, with state ``stopped``); returns the stopped deployment.

        The record and its ``deployment_stopped`` event are stored in one transaction, then the
        ``after_deployment_stopped`` hook fires. Stopping a deployment recorded as stopped records nothing.
        """
        from opskit.governance.policy import require
        from opskit.registry.hooks import fire_hooks

        require(f"stop:{self.target}", subject=self.name)
        get_target(self.target).stop(self.record)
        if self.record.state == "stopped":  # already recorded as stopped: nothing changed, no event
            return self
        stopped = attrs.evolve(self.record, state="stopped")
        fire_hooks([save(stopped, before=to_plain(self.record), stopped=True)])
        return DeploymentClient.of(stopped)

    def logs(self) -> str:
        """The server's log output."""
        logs: str = get_target(self.target).logs(self.record)
        return logs

    def predictions(self, since: object = None, until: object = None) -> Any:
        """The prediction log in ``[since, until)`` as a DataFrame: ``opskit.monitor.predictions(self.name, ...)``."""
        from opskit.monitor.prediction_log import predictions

        return predictions(self.name, since=since, until=until)

    def predict(self, data: Any, *, timeout: float = 60.0) -> list[Any]:
        """Score *data* over HTTP, sent exactly (no rounding); returns the predictions.

        *data* is what ``model.predict`` takes: a DataFrame, a Series (one column),
        a NumPy array, a list of records (dicts), one record, or a list of rows.
        """
        return predict(self, data, timeout=timeout)
