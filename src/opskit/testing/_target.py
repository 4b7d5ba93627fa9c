"""``TargetContract``: what every deployment ``Target`` must do, as pytest tests."""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

import attrs
import pytest

from opskit.deployments.target import Deployment, DeploymentSpec, Target
from opskit.testing._context import Contract, declared

__all__ = ["TargetContract", "register_test_model"]


def register_test_model(name: str = "contract-model") -> str:
    """Register a tiny model (``predict`` returns one 0.0 per row) in the active store; return its exact ref."""
    import opskit

    class Zero:  # defined here so cloudpickle stores it by value: any process can load it
        def predict(self, rows: Any) -> list[float]:
            return [0.0] * len(rows)

    @opskit.train(model=name)
    def fit() -> Zero:
        return Zero()

    fit()
    run = opskit.last_run()
    assert run is not None and run.model_version is not None
    return run.model_version.ref


class TargetContract(Contract):
    """Contract tests for a ``Target``: define the ``target`` fixture; the store must be a fresh one.

    opskit makes a new target instance for every call and passes ``status``,
    ``stop`` and ``logs`` only the record ``deploy`` returned, as kept in the
    tracker (JSON): the suite does the same, through ``another_target`` (by
    default the target registered under ``target.name``). Override ``options``
    for the deploy options the target needs, and set ``live_states`` /
    ``stopped_states`` to the statuses it reports. A record with a ``url`` must
    answer predictions.
    """

    #: Statuses accepted right after ``deploy``.
    live_states: ClassVar[frozenset[str]] = frozenset({"running"})
    #: Statuses accepted after ``stop``.
    stopped_states: ClassVar[frozenset[str]] = frozenset({"stopped"})

    @pytest.fixture
    def target(self) -> Target:
        """The target under test; subclasses override this fixture."""
        pytest.fail(declared(self, "target"))

    @pytest.fixture
    def another_target(self, target: Target) -> Target:
        """A second instance of the target, made the way opskit makes one (from the registry)."""
        from opskit.errors import UnknownBackend
        from opskit.runtime import get_config, get_registry

        try:
            entry = get_registry().get("target", target.name)
        except UnknownBackend:
            pytest.fail(
                f"no target is registered as {target.name!r}: register the plugin (opskit.testing.plugin_manager) "
                "or override the `another_target` fixture"
            )
        made: Target = entry.factory(get_config())
        return made

    @pytest.fixture
    def options(self) -> dict[str, Any]:
        """Target options for the deploy (for example a ``path``)."""
        return {}

    @pytest.fixture
    def spec(self, target: Target, options: dict[str, Any]) -> DeploymentSpec:
        """What the suite deploys: one registered test model under a fresh name."""
        return DeploymentSpec(
            name=f"contract-{uuid.uuid4().hex[:8]}",
            target=target.name,
            variants={register_test_model(): 1.0},
            options=options,
        )

    def test_implements_the_protocol(self, target: Target) -> None:
        """The target is a ``Target`` with a string ``name``."""
        assert isinstance(target, Target)
        assert isinstance(target.name, str) and target.name

    def test_deploy_status_stop(
        self, target: Target, another_target: Target, spec: DeploymentSpec
    ) -> None:
        """``deploy`` returns the spec's record; from that record alone status is live, then stopped after ``stop``."""
        from opskit.deployments.client import predict
        from opskit.serialize import from_plain, to_plain

        record = target.deploy(spec)
        try:
            assert (record.name, record.target) == (spec.name, target.name)
            assert record.refs == tuple(spec.variants) and record.weights == spec.variants
            assert record.shadow == spec.shadow
            kept = from_plain(Deployment, json.loads(json.dumps(to_plain(record))))
            assert kept == record, "the record must survive the tracker's JSON round trip"
            status = another_target.status(kept)
            assert status in self.live_states, (
                f"status {status!r} right after deploy; expected one of {sorted(self.live_states)}"
            )
            assert isinstance(another_target.logs(kept), str)
            if kept.url is not None:
                assert predict(kept, [{"x": 1.0}, {"x": 2.0}]) == [0.0, 0.0]
            another_target.stop(kept)
        except BaseException:
            target.stop(record)
            raise
        stopped = attrs.evolve(kept, state="stopped")  # what opskit keeps after a stop
        status = target.status(stopped)
        assert status in self.stopped_states, (
            f"status {status!r} after stop; expected one of {sorted(self.stopped_states)}"
        )
        target.stop(stopped)  # stopping again is fine
        assert target.status(stopped) in self.stopped_states
