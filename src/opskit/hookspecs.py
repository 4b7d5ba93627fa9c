"""Every opskit hook, declared and documented in one place.

Plugins implement hooks with ``@opskit.hookimpl`` and are found through the
entry point group ``opskit``. Built-in backends are plugins too (see
``opskit.builtins``), registered exactly like third-party ones.

The hooks are grouped by concern, one banner per group (pytest's layout):

* **Registration** (``register_*``): called once per plugin manager, on the
  first backend lookup, with a ``register`` callback; ``plugins.build_registry``
  calls each implementation on its own so a duplicate name can name both
  plugins. Register *factories*, not instances, so a backend's heavy imports
  happen only when it is selected. Return ``None``.
* **Who handles this** (``firstresult``): the first non-``None`` answer wins.
  Built-ins are ``trylast``, so any plugin can take over. Return ``None`` for
  anything that is not yours.
* **Lifecycle** (``before_*`` / ``after_*`` / ``on_*_error``): broadcasts to
  every implementation. They receive frozen records, never live internals;
  their return values are ignored.

Calling convention: opskit calls every hook with keyword arguments only (pluggy
refuses positional calls); an implementation may accept a subset of them. Each
spec below is typed, and ``opskit._hooks.hooks`` has one typed method per
non-registration hook, so every call site is checked by mypy. The order in
which hooks fire during a train call, a registration, an alias move and a
deploy is in docs/plugins.md ("Hook call order").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from opskit.monitor.records import DriftReport
    from opskit.records import AliasChange, DataInput, ModelVersion, Run, Schema, SerializedModel
    from opskit.records.deployments import Deployment
    from opskit.records.validation import ValidationReport
    from opskit.registration import (
        RegisterDriftMethod,
        RegisterGate,
        RegisterStorage,
        RegisterTarget,
        RegisterTracker,
    )

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("opskit")
hookimpl = pluggy.HookimplMarker("opskit")


# -- registration of backends ------------------------------------------------------------------
# Called once per plugin manager with a ``register`` callback; return None.


@hookspec
def register_trackers(register: RegisterTracker) -> None:
    """Register tracker backends: ``register("name", factory)``.

    ``factory(config)`` receives the :class:`opskit.Config` in force and returns an
    object implementing :class:`opskit.tracker.Tracker`. Called once per plugin
    manager. Select a tracker with ``OPSKIT_TRACKER=name`` or
    ``opskit.configure(tracker="name")``.
    """


@hookspec
def register_storages(register: RegisterStorage) -> None:
    """Register storage backends: ``register("name", factory, schemes=("s3",))``.

    ``factory(config, location)`` receives the config and the configured storage
    string (a name, a path or a URL) and returns an object implementing
    :class:`opskit.storage.Storage`. Called once per plugin manager. A storage is
    selected by name (``OPSKIT_STORAGE=name``) or by URL scheme
    (``OPSKIT_STORAGE=s3://bucket/prefix``).
    """


@hookspec
def register_targets(register: RegisterTarget) -> None:
    """Register deployment targets: ``register("name", factory)``.

    ``factory(config)`` returns an object implementing
    :class:`opskit.deployments.Target` (``deploy(spec)``, ``status``, ``stop``,
    ``logs``). Called once per plugin manager. Targets are listed by
    ``opskit plugins`` and selected by ``opskit.deploy(..., target="name")``.
    Built-ins: ``local`` and ``docker``.
    """


@hookspec
def register_drift_methods(register: RegisterDriftMethod) -> None:
    """Register drift statistics: ``register("name", compute, kinds=("numeric",), threshold=0.1)``.

    Called once, when the drift-method registry is first needed; returns nothing.

    ``compute(reference, current)`` receives two ``opskit.monitor.stats.NumericData``
    (sorted float64 ``values``, ``n``, ``cdf(x)``, ``mean_std()``) or two
    ``CategoricalData`` (``counts``) and returns ``(statistic, p_value)``, ``p_value``
    ``None`` for a distance. ``kinds`` says which columns it applies to (``"numeric"``,
    ``"categorical"``); ``threshold`` is the default decision threshold (p-value methods
    flag drift when ``p_value < threshold``, distances when ``statistic >= threshold``).
    Select it with ``opskit.monitor.drift(..., methods={"column": "name"})``. Built-ins:
    ``ks``, ``wasserstein``, ``psi``, ``chisquare``, ``jensenshannon``. A name registered
    twice is a ``DuplicateDriftMethod`` naming both plugins.
    """


@hookspec
def register_gates(register: RegisterGate) -> None:
    """Register quality gates by name: ``register("name", gate)``.

    Called once, when a decorator first names a plugin gate (``gates.plugin("name", ...)``);
    returns nothing. ``gate(ctx, **params)`` receives an
    ``opskit.validation.gates.GateContext`` (the challenger's ``metrics``, the
    ``incumbent_metrics``, the ``model``, the evaluation data ``X`` / ``y``) and the
    keyword arguments given to ``gates.plugin``, and returns a ``GateResult`` or a bool.
    A name registered twice is a ``DuplicateGate`` naming both plugins.
    """


# -- who handles this (firstresult) ------------------------------------------------------------
# The first implementation returning something other than None wins; built-ins are trylast.


@hookspec(firstresult=True)
def serialize_model(model: object) -> SerializedModel | None:
    """Serialize a trained model, or return ``None`` to let another plugin try.

    Called when a ``@opskit.train`` function returns. Return a
    :class:`opskit.SerializedModel` with a ``flavor`` name that your
    ``deserialize_model`` recognises. Built-ins: ``sklearn`` (estimators and
    pipelines) and ``cloudpickle`` (anything picklable, tried last).
    """


@hookspec(firstresult=True)
def deserialize_model(version: ModelVersion, data: bytes) -> object | None:
    """Rebuild the model stored as *version* from its verified bytes.

    Return ``None`` if ``version.flavor`` is not yours. Called by
    ``opskit.load_model``. Raise :class:`opskit.ModelLoadError` when the bytes are
    yours but cannot be loaded here (say why and what to install).
    """


@hookspec(firstresult=True)
def fingerprint_data(name: str, value: object) -> DataInput | None:
    """Describe a data argument (name, kind, shape, schema, content digest).

    Called for every argument bound to a tracked function; return ``None`` for
    anything that is not data (it then becomes a param if it is JSON-able).
    Must be deterministic: the same content gives the same digest in every
    process. Built-ins handle pandas DataFrame/Series, NumPy arrays and file paths.
    """


@hookspec(firstresult=True)
def infer_schema(value: object) -> Schema | None:
    """Infer the input schema of a model from its training data, or return ``None``.

    Called after the call of a ``@opskit.train`` function, before registration, with each data argument of a ``@opskit.train`` function; the model
    version's ``signature`` is built from the results (see
    ``opskit.registry.register.model_signature``).
    """


# -- lifecycle (broadcast) ---------------------------------------------------------------------
# Every implementation is called, after the change is stored; return values are ignored.


@hookspec
def before_run(run: Run) -> None:
    """A run has started and is recorded as RUNNING; *run* holds params, code, env and inputs.

    Called before the tracked function runs (and by ``opskit.start_run``). Return value ignored.
    Raising stops the run: it is ended as FAILED with that error (``on_run_error`` and
    ``after_run`` fire), no run stays active, and the error propagates to the caller.
    """


@hookspec
def after_run(run: Run) -> None:
    """A run has ended (FINISHED, FAILED or KILLED) and everything is stored.

    Called last, after ``on_run_error`` when the function raised and after a model
    was registered when it returned one. Return value ignored. An exception from an
    implementation is logged (logger ``opskit.plugins``), never raised.
    """


@hookspec
def on_run_error(run: Run, error: BaseException) -> None:
    """The tracked function (or a ``before_run`` implementation) raised *error*; *run* is already stored as FAILED/KILLED.

    Called before ``after_run``. The original exception is re-raised unchanged after
    every implementation ran; an implementation that raises is logged (logger
    ``opskit.plugins``), never re-raised in its place. Return value ignored.
    """


@hookspec
def after_model_registered(version: ModelVersion) -> None:
    """A new model version was registered (its blob is stored and verified).

    Called by ``@opskit.train`` and ``opskit.models.register`` after the tracker committed the
    version and its ``version_registered`` registry event, before
    ``after_alias_changed`` for its ``alias=`` and before ``after_run``. Return value ignored.
    """


@hookspec
def after_alias_changed(change: AliasChange) -> None:
    """An alias moved (``change.version``) or was removed (``change.version is None``).

    Called after the tracker recorded the change, from ``alias=`` of a decorator and
    from ``opskit.models.set_alias`` / ``delete_alias``; not called when the alias
    already pointed at that version. Return value ignored.
    """


@hookspec
def after_validation(run: Run, report: ValidationReport) -> None:
    """The data checks and quality gates of a run were decided and the report is stored with the run.

    Called by ``@opskit.train`` / ``@opskit.track`` functions that declare ``checks=`` or
    ``gates=``/``metrics=``: after a failed data check (before ``on_run_error``), or after the
    registration decision (after ``after_model_registered`` / ``after_alias_changed`` when the
    model was registered), always before ``after_run``. *run* is the run as stored so far
    (still RUNNING); *report* holds every check and gate and the ``outcome``. Return value ignored.
    """


@hookspec
def after_deploy(deployment: Deployment) -> None:
    """A deployment was started (or built) by its target and recorded in the tracker.

    Called by ``opskit.deploy`` / ``opskit deploy`` after the record and its registry event
    (``deployment_created`` or ``deployment_switched``) are stored. Return value ignored.
    """


@hookspec
def after_deployment_stopped(deployment: Deployment) -> None:
    """A deployment was stopped by its target; *deployment* is its stored record (state ``stopped``).

    Called by ``opskit.deployments.stop`` / ``opskit deployments stop`` after the record and its
    ``deployment_stopped`` registry event are stored. Return value ignored.
    """


# -- monitoring alerts (broadcast) -------------------------------------------------------------


@hookspec
def on_drift_detected(report: DriftReport, deployment: str | None) -> None:
    """Drift was detected: *report* is a :class:`opskit.monitor.DriftReport` with ``drifted`` true.

    Called by ``opskit.monitor.drift`` (after the report is built, and after the latest drift
    is stored for *deployment*) when the call is tied to production: ``deployment=`` was given
    (*deployment* is that name) or ``reference=`` was a model reference; ``alert=True`` /
    ``alert=False`` forces or silences it. Also by ``opskit.monitor.alerts.drift_detected``.
    Return value ignored. An exception from an implementation is logged (logger
    ``opskit.plugins``), never raised into the caller. The built-in webhook
    (``opskit.builtins.alerts``) implements it.
    """


@hookspec
def on_performance_degraded(report: object, deployment: str | None) -> None:
    """A performance threshold was breached: *report* is the ``PerformanceReport`` (``degraded`` true).

    Called by ``opskit.monitor.alerts.performance_degraded`` (which ``opskit.monitor.performance``
    and ``opskit.monitor.check`` call when a threshold is breached); *deployment* is the deployment
    it concerns, or None. Return value ignored. An exception from an implementation is logged
    (logger ``opskit.plugins``), never raised into the caller. The built-in webhook implements it.
    """
