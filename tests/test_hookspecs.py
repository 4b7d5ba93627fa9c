"""hookspecs.py is the one typed, documented declaration of every hook, and the typed facade covers each one."""

from __future__ import annotations

import inspect
from pathlib import Path

from opskit import _hooks, hookspecs

ROOT = Path(__file__).resolve().parents[1]
SPECS = {name: fn for name, fn in vars(hookspecs).items() if hasattr(fn, "opskit_spec")}
REGISTRATION = {name for name in SPECS if name.startswith("register_")}


def test_every_spec_is_typed_and_says_when_it_is_called_and_what_it_returns() -> None:
    """Each spec annotates every argument and its return, and its docstring states when it is called and its return."""
    for name, spec in SPECS.items():
        params = inspect.signature(spec).parameters
        assert all(p.annotation is not inspect.Parameter.empty for p in params.values()), name
        assert "return" in spec.__annotations__, name
        doc = inspect.getdoc(spec) or ""
        assert "Called" in doc, f"{name}: say when it is called"
        assert "return" in doc.lower(), f"{name}: say what it must return"


def test_firstresult_only_for_who_handles_this_hooks() -> None:
    """``firstresult`` marks exactly the hooks whose answer can be None ("not mine"); lifecycle hooks broadcast."""
    for name, spec in SPECS.items():
        firstresult = spec.opskit_spec["firstresult"]
        assert firstresult == ("| None" in spec.__annotations__["return"]), name


def test_the_typed_facade_has_one_method_per_called_hook() -> None:
    """``opskit._hooks.hooks`` has a method for every non-registration hook, with the spec's arguments and return type."""
    facade = {n: f for n, f in vars(_hooks._Hooks).items() if not n.startswith("_") and callable(f)}
    assert set(facade) == set(SPECS) - REGISTRATION
    for name, method in facade.items():
        spec = SPECS[name]
        assert [*inspect.signature(method).parameters][1:] == [
            *inspect.signature(spec).parameters
        ], name
        assert method.__annotations__["return"] == spec.__annotations__["return"], name


def test_registration_hooks_are_called_by_the_registry_builder() -> None:
    """The registration hooks, which the facade leaves out, are called where the backend registry is built."""
    source = "".join(path.read_text() for path in (ROOT / "src" / "opskit").rglob("*.py"))
    assert all(f"hook.{name}" in source for name in REGISTRATION), REGISTRATION


class OrderRecorder:
    """Records every hook a train call fires, answering None so the built-ins still do the work."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookspecs.hookimpl
    def fingerprint_data(self, name: str, value: object) -> None:
        self.calls.append("fingerprint_data")

    @hookspecs.hookimpl
    def before_run(self) -> None:
        self.calls.append("before_run")

    @hookspecs.hookimpl
    def infer_schema(self, value: object) -> None:
        self.calls.append("infer_schema")

    @hookspecs.hookimpl
    def serialize_model(self, model: object) -> None:
        self.calls.append("serialize_model")

    @hookspecs.hookimpl
    def after_model_registered(self) -> None:
        self.calls.append("after_model_registered")

    @hookspecs.hookimpl
    def after_alias_changed(self) -> None:
        self.calls.append("after_alias_changed")

    @hookspecs.hookimpl
    def after_run(self) -> None:
        self.calls.append("after_run")


def test_a_train_call_fires_hooks_in_the_documented_order(tmp_path: Path) -> None:
    """docs/plugins.md "Hook call order": fingerprint, before_run, infer_schema, serialize, registered, alias, after_run."""
    import pandas as pd

    import opskit
    from opskit.testing import fresh_store, plugin_manager

    recorder = OrderRecorder()
    with fresh_store(tmp_path / ".opskit"), plugin_manager(recorder):

        @opskit.train(model="ordered", alias="prod")
        def fit(frame: pd.DataFrame) -> dict[str, int]:
            return {"rows": len(frame)}

        fit(pd.DataFrame({"x": [1, 2, 3]}))
    assert recorder.calls == [
        "fingerprint_data",
        "before_run",
        "infer_schema",
        "serialize_model",
        "after_model_registered",
        "after_alias_changed",
        "after_run",
    ]
    docs = (ROOT / "docs" / "plugins.md").read_text()
    steps = docs.split("## Hook call order", 1)[1].split("**A registration**", 1)[0]
    positions = [steps.index(f"`{name}(") for name in recorder.calls]
    assert positions == sorted(positions), "docs/plugins.md lists the train hooks in another order"
