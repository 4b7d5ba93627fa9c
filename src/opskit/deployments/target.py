"""The deployment target contract, the spec a target receives and the Deployment record it returns."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from attrs import field, frozen

from opskit.errors import DeploymentError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opskit.deployments.options import Option

__all__ = ["Deployment", "DeploymentSpec", "SupportsOptions", "Target", "request_body"]


def _plain(value: Any) -> Any:
    """One cell as exact JSON: missing → null, timestamps → ISO 8601 (full precision), NumPy scalars → Python."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, bool | int | str):
        return value
    module = type(value).__module__.split(".", 1)[0]
    if module == "pandas" and type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if module == "numpy" and hasattr(value, "item"):
        return _plain(value.item())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _column(series: Any) -> list[Any]:
    dtype = series.dtype
    if getattr(dtype, "kind", "") == "f" and type(dtype).__module__.startswith("numpy"):
        return [None if v != v else v for v in series.to_numpy().tolist()]
    return [_plain(v) for v in series.tolist()]


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
        rows = [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in range(len(data))]
        return {"dataframe_split": {"columns": [str(c) for c in data.columns], "data": rows}}
    if module == "numpy" and kind == "ndarray":
        if data.dtype.kind in "fiub":
            return {"inputs": _plain(data.tolist())}
        return {"inputs": _plain(data.astype(object).tolist())}
    raise DeploymentError(
        f"cannot send a {type(data).__qualname__} to a deployment; pass a pandas DataFrame or Series, a NumPy array, "
        "a list of records (dicts) or a list of rows"
    )


def _tuple(items: Any) -> tuple[str, ...]:
    return tuple(items)


def _dict(value: Any) -> dict[str, Any]:
    return dict(value or {})


@frozen
class DeploymentSpec:
    """What to deploy: a name, weighted model references, an optional shadow, target options."""

    name: str
    target: str
    #: Model reference → traffic weight (weights sum to 1).
    variants: dict[str, float] = field(converter=_dict)
    shadow: str | None = None
    port: int | None = None
    options: dict[str, Any] = field(factory=dict, converter=_dict)


@frozen
class Deployment:
    """A deployment as recorded in the tracker. ``status()`` asks its target whether it is alive."""

    name: str
    target: str
    url: str | None
    #: Model references served, in traffic order (the shadow is separate).
    refs: tuple[str, ...] = field(converter=_tuple)
    #: Traffic weight of each reference.
    weights: dict[str, float] = field(factory=dict, converter=_dict)
    shadow: str | None = None
    #: What the target recorded when it deployed ("running", "built", ...); see ``status()`` for now.
    state: str = "running"
    created_at: float = 0.0
    pid: int | None = None
    path: str | None = None
    options: dict[str, Any] = field(factory=dict, converter=_dict)

    def _target(self) -> Target:
        from opskit.deployments.api import get_target

        return get_target(self.target)

    def status(self) -> str:
        """Live status from the target: ``running``, ``starting``, ``stopped``, ``built``, ..."""
        return self._target().status(self)

    def stop(self) -> None:
        """Stop serving (the record stays, with state ``stopped``)."""
        from opskit.deployments.api import stop

        stop(self.name)

    def logs(self) -> str:
        """The server's log output."""
        return self._target().logs(self)

    def predictions(self) -> list[dict[str, Any]]:
        """The prediction log written so far: one dict per logged request."""
        from opskit.serve.predlog import read_predictions

        return read_predictions(self.name)

    def predict(self, data: Any, *, timeout: float = 60.0) -> list[Any]:
        """Score *data* over HTTP, sent exactly (no rounding); returns the predictions.

        *data* is what ``model.predict`` takes: a DataFrame, a Series (one column),
        a NumPy array, a list of records (dicts), one record, or a list of rows.
        """
        if self.url is None:
            raise DeploymentError(f"deployment {self.name!r} ({self.target}) has no URL to send requests to")
        body = json.dumps(request_body(data)).encode()
        request = urllib.request.Request(f"{self.url}/invocations", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                predictions: list[Any] = json.loads(response.read())["predictions"]
                return predictions
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise DeploymentError(f"deployment {self.name!r} rejected the request ({exc.code}): {detail}") from None
        except OSError as exc:
            raise DeploymentError(
                f"deployment {self.name!r} at {self.url} is not reachable ({exc}); "
                f"check `opskit deployments show {self.name}` and its logs"
            ) from None

    def summary(self) -> str:
        refs = ", ".join(f"{r} ({self.weights.get(r, 1.0):.0%})" for r in self.refs)
        shadow = f"  shadow={self.shadow}" if self.shadow else ""
        return f"{self.name}  [{self.target}]  {self.url or self.path or '-'}  {refs}{shadow}"

    def _repr_html_(self) -> str:
        from opskit.records import _html_table

        rows: list[tuple[str, object]] = [
            ("target", self.target),
            ("url", self.url or "-"),
            ("models", ", ".join(self.refs)),
            ("shadow", self.shadow or "-"),
            ("state", self.state),
            ("created", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.created_at))),
        ]
        return _html_table(f"Deployment {self.name}", rows)


@runtime_checkable
class Target(Protocol):
    """What a deployment target plugin implements (registered with ``register_targets``)."""

    #: The name the target is registered under.
    name: str

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        """Start (or build) the deployment and return its record; raise ``DeploymentError`` on failure."""
        ...

    def status(self, deployment: Deployment) -> str:
        """The live status of a deployment this target made."""
        ...

    def stop(self, deployment: Deployment) -> None:
        """Stop serving; stopping an already stopped deployment is fine."""
        ...

    def logs(self, deployment: Deployment) -> str:
        """The deployment's log output ("" when there is none)."""
        ...


@runtime_checkable
class SupportsOptions(Protocol):
    """An optional target capability: a table of the deploy options it accepts.

    With it, ``opskit.deploy`` checks ``spec.options`` against the table before
    anything starts (an unknown name or a bad value raises ``InvalidOption``) and
    hands the target the values converted to their type. A target without it
    checks its own options in ``deploy``.
    """

    @property
    def options(self) -> Mapping[str, Option]:
        """Option name → ``opskit.deployments.options.Option`` (kind, bounds or choices, an example)."""
        ...
