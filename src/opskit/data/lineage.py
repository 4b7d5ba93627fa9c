"""``opskit.lineage(...)``: what produced a model version, and what used a piece of data.

Upstream of a model version: the run that produced it, that run's data (dataset
versions, or the raw digest of a fingerprint-only input), code (function, commit,
dirty diff, source digest), params and environment. Downstream: the deployments
serving the version now (a deployment's references are resolved, so one serving
``churn@production`` counts while the alias points at the version).

Downstream of data (a dataset version ``customers:2`` / ``customers@prod``, or a raw
digest): every run that had an input with the same content digest (found by
the trackers' ``inputs.digest`` search, on every tracker), the model versions
those runs registered, and the deployments serving those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opskit.records._common import when as _when
from opskit.records.versioning import Lineage, LineageNode

if TYPE_CHECKING:
    from opskit.names import ModelRef
    from opskit.records import DataInput, ModelVersion, Run
    from opskit.tracker.base import Tracker

__all__ = ["data_lineage", "lineage", "model_lineage", "runs_using"]

#: At most this many runs are listed under a piece of data (the record says when more exist).
DEFAULT_RUN_LIMIT = 100


def runs_using(digest: str, *, limit: int = DEFAULT_RUN_LIMIT) -> tuple[list[Run], bool]:
    """(runs that had a data input with this content digest, newest first; whether more exist)."""
    from opskit.query import Clause, RunQuery
    from opskit.runtime import get_tracker

    query = RunQuery(clauses=(Clause("inputs", "digest", "=", digest),), limit=limit + 1)
    found = get_tracker().search_runs(query)
    return found[:limit], len(found) > limit


def _deployments(tracker: Tracker) -> dict[tuple[str, int], list[tuple[str, str, dict[str, Any]]]]:
    """(model, version) → [(deployment name, the reference it serves it under, its document)]."""
    from opskit.deployments.client import STATE_KIND
    from opskit.errors import OpskitError
    from opskit.names import ModelRef

    served: dict[tuple[str, int], list[tuple[str, str, dict[str, Any]]]] = {}
    documents = tracker.list_state(STATE_KIND)
    for key in sorted(documents):
        doc = documents[key]
        refs = [*doc.get("refs", ()), *([doc["shadow"]] if doc.get("shadow") else [])]
        for ref in refs:
            try:
                version = tracker.get_model_version(ModelRef.parse(ref))
            except OpskitError:  # the model or alias is gone: it serves nothing we can name
                continue
            role = "shadow" if ref == doc.get("shadow") else ref
            served.setdefault((version.name, version.version), []).append(
                (str(doc.get("name", key)), role, doc)
            )
    return served


def _deployment_nodes(
    version: ModelVersion, served: Mapping[tuple[str, int], list[tuple[str, str, dict[str, Any]]]]
) -> list[LineageNode]:
    nodes = []
    for name, ref, doc in served.get((version.name, version.version), []):
        details: dict[str, Any] = {"target": doc.get("target"), "state": doc.get("state")}
        where = doc.get("url") or doc.get("path")
        if where:
            details["at"] = where
        label = f"{name} (serves {ref})" if ref != "shadow" else f"{name} (shadow)"
        nodes.append(
            LineageNode("deployment", label, ref=name, relation="served by", details=details)
        )
    return nodes


def _dataset_of(data: DataInput) -> str | None:
    return data.dataset or None


def _input_node(data: DataInput) -> LineageNode:
    details: dict[str, Any] = {"argument": data.name, "digest": data.digest, "kind": data.kind}
    if data.shape is not None:
        details["shape"] = "x".join(map(str, data.shape))
    if data.schema is not None and data.schema.kind == "table":
        details["columns"] = ", ".join(f"{c.name}: {c.type}" for c in data.schema.columns)
    if data.path:
        details["path"] = data.path
    dataset = _dataset_of(data)
    if dataset is not None:
        return LineageNode("dataset", dataset, ref=dataset, relation="used", details=details)
    return LineageNode(
        "data",
        f"{data.name} (fingerprint only)",
        ref=data.digest,
        relation="used",
        details=details,
    )


def _code_node(run: Run) -> LineageNode | None:
    code = run.code
    if code is None:
        return None
    commit = code.git_commit or "no git"
    label = f"{code.function or '-'} @ {commit[:12]}" + (" (dirty)" if code.git_dirty else "")
    details: dict[str, Any] = {}
    if code.module:
        details["module"] = code.module
    details["commit"] = code.git_commit or "not in a git repository"
    if code.git_dirty is not None:
        details["dirty"] = code.git_dirty
    if code.source_file:
        details["file"] = code.source_file
    if code.file_digest:
        details["source digest"] = code.file_digest
    if code.notebook_cell:
        details["notebook"] = "defined in a notebook cell"
    return LineageNode(
        "code",
        label,
        ref=code.git_commit,
        details=details,
        text=code.git_diff or None,
    )


def _run_upstream(run: Run) -> list[LineageNode]:
    """What a run came from: its data, code, params and environment."""
    nodes = [_input_node(d) for d in run.inputs]
    code = _code_node(run)
    if code is not None:
        nodes.append(code)
    if run.params:
        nodes.append(
            LineageNode(
                "params",
                f"({len(run.params)})",
                details={k: run.params[k] for k in sorted(run.params)},
            )
        )
    if run.env is not None:
        env = run.env
        nodes.append(
            LineageNode(
                "environment",
                f"Python {env.python} on {env.platform}, {len(env.packages)} packages",
                details={
                    "python": f"{env.implementation} {env.python}",
                    "platform": env.platform,
                    "packages": len(env.packages),
                },
            )
        )
    return nodes


def _run_label(run: Run) -> str:
    return f"{run.id} {run.name} [{run.status}]"


def _run_details(run: Run) -> dict[str, Any]:
    details: dict[str, Any] = {"experiment": run.experiment, "started": _when(run.started_at)}
    if run.user:
        details["user"] = run.user
    return details


def _version_label(version: ModelVersion) -> str:
    aliases = f" @{', @'.join(version.aliases)}" if version.aliases else ""
    return f"{version.ref}{aliases}"


def _version_details(version: ModelVersion) -> dict[str, Any]:
    return {
        "flavor": version.flavor,
        "digest": version.digest,
        "created": _when(version.created_at),
    }


def model_lineage(ref: str | ModelRef) -> Lineage:
    """The lineage of a model version (``churn``, ``churn:3``, ``churn@production``)."""
    from opskit.errors import RunNotFound
    from opskit.names import ModelRef
    from opskit.runtime import get_tracker

    tracker = get_tracker()
    parsed = ModelRef.parse(ref)
    version = tracker.get_model_version(parsed)
    children: list[LineageNode] = []
    if version.run_id:
        try:
            run = tracker.get_run(version.run_id)
        except RunNotFound:
            children.append(
                LineageNode(
                    "run",
                    f"{version.run_id} (not in this tracker)",
                    ref=version.run_id,
                    relation="produced by",
                )
            )
        else:
            children.append(
                LineageNode(
                    "run",
                    _run_label(run),
                    ref=run.id,
                    relation="produced by",
                    details=_run_details(run),
                    children=_run_upstream(run),
                )
            )
    children += _deployment_nodes(version, _deployments(tracker))
    root = LineageNode(
        "model_version",
        _version_label(version),
        ref=version.ref,
        details=_version_details(version),
        children=children,
    )
    return Lineage(subject=str(parsed), direction="model", root=root)


def _looks_like_digest(text: str) -> bool:
    _algo, sep, rest = text.partition(":")
    return bool(sep) and len(rest) >= 16 and all(c in "0123456789abcdef" for c in rest)


def data_lineage(ref: str, *, limit: int = DEFAULT_RUN_LIMIT) -> Lineage:
    """The lineage of data: a dataset version (``customers:2``, ``customers@prod``) or a content digest."""
    from opskit.errors import OpskitError
    from opskit.names import ModelRef
    from opskit.runtime import get_tracker

    tracker = get_tracker()
    details: dict[str, Any]
    if _looks_like_digest(ref):
        digest = ref
        kind: Any = "data"
        label = digest
        details = {}
        subject = digest
    else:
        from opskit.data.datasets import get_dataset_version

        dataset = get_dataset_version(ref)
        digest = dataset.digest
        kind = "dataset"
        aliases = f" @{', @'.join(dataset.aliases)}" if dataset.aliases else ""
        label = f"{dataset.ref}{aliases}"
        subject = dataset.ref
        details = {"digest": digest, "kind": dataset.kind, "format": dataset.format}
        if dataset.shape is not None:
            details["shape"] = "x".join(map(str, dataset.shape))
        if dataset.run_id:
            details["logged by run"] = dataset.run_id
    runs, more = runs_using(digest, limit=limit)
    served = _deployments(tracker)
    children: list[LineageNode] = []
    for run in runs:
        arguments = [d.name for d in run.inputs if d.digest == digest]
        run_details = {"as": ", ".join(arguments), **_run_details(run)}
        below: list[LineageNode] = []
        if run.model_version is not None:
            try:
                version = tracker.get_model_version(
                    ModelRef(run.model_version.name, version=run.model_version.version)
                )
            except OpskitError:  # deleted since: show what the run recorded
                version = run.model_version
            below.append(
                LineageNode(
                    "model_version",
                    _version_label(version),
                    ref=version.ref,
                    relation="registered",
                    details=_version_details(version),
                    children=_deployment_nodes(version, served),
                )
            )
        children.append(
            LineageNode(
                "run",
                _run_label(run),
                ref=run.id,
                relation="used by",
                details=run_details,
                children=below,
            )
        )
    if not runs:
        details["runs"] = "no run used this content"
    elif more:
        details["runs"] = f"the newest {limit} runs that used it are listed; more exist"
    root = LineageNode(kind, label, ref=subject, details=details, children=children)
    return Lineage(subject=subject, direction="data", root=root)


def lineage(
    ref: str | ModelRef | None = None, *, data: str | None = None, limit: int = DEFAULT_RUN_LIMIT
) -> Lineage:
    """Where a model version came from, or what used some data: a tree that prints and renders.

    ``opskit.lineage("churn:3")`` (or ``"churn@production"``): the run, its data versions
    (raw digests for fingerprint-only inputs), code, params, environment, and the
    deployments serving the version. ``opskit.lineage(data="customers:2")`` (or a content
    digest): the runs that used the same content, the model versions they registered and
    the deployments serving those (at most *limit* runs, newest first).
    """
    from opskit.errors import InvalidValue

    if (ref is None) == (data is None):
        raise InvalidValue(
            "opskit.lineage takes a model reference or data=, not both and not neither: "
            "opskit.lineage('churn:3') or opskit.lineage(data='customers:2')"
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidValue(f"limit must be an integer of at least 1, got {limit!r}")
    if data is not None:
        if not isinstance(data, str) or not data.strip():
            raise InvalidValue(
                f"data= takes a dataset reference ('customers:2', 'customers@prod') or a content "
                f"digest, got {data!r}"
            )
        return data_lineage(data.strip(), limit=limit)
    assert ref is not None
    return model_lineage(ref)
