"""The plugin system: entry points, registration hooks, firstresult hooks, lifecycle hooks, guards."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

import opskit
from conftest import ROOT, run_python
from opskit import hookspecs
from opskit.plugins import build_registry, create_plugin_manager, get_plugin_manager
from opskit.records import AliasChange, DataInput, ModelVersion, Run, Schema, SerializedModel

HOOK_NAMES = sorted(name for name, fn in vars(hookspecs).items() if hasattr(fn, "opskit_spec"))


class Recorder:
    """Implements every hook and records the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @opskit.hookimpl
    def register_trackers(self, register: Any) -> None:
        self.calls.append(("register_trackers", None))

    @opskit.hookimpl
    def register_storages(self, register: Any) -> None:
        self.calls.append(("register_storages", None))

    @opskit.hookimpl
    def register_targets(self, register: Any) -> None:
        register("echo", lambda config: "echo-target")
        self.calls.append(("register_targets", None))

    @opskit.hookimpl
    def register_drift_methods(self, register: Any) -> None:
        register(
            "recorder_range",
            lambda ref, cur: (float(cur.values[-1] - ref.values[-1]), None),
            kinds=("numeric",),
            threshold=1.0,
        )
        self.calls.append(("register_drift_methods", None))

    @opskit.hookimpl
    def serialize_model(self, model: object) -> SerializedModel | None:
        if isinstance(model, Weights):
            return SerializedModel(
                "weights", ",".join(map(str, model.values)).encode(), {"n": len(model.values)}
            )
        return None

    @opskit.hookimpl
    def deserialize_model(self, version: ModelVersion, data: bytes) -> object | None:
        if version.flavor != "weights":
            return None
        self.calls.append(("deserialize_model", version.ref))
        return Weights([int(v) for v in data.decode().split(",")])

    @opskit.hookimpl
    def fingerprint_data(self, name: str, value: object) -> DataInput | None:
        if isinstance(value, Weights):
            return DataInput(
                name=name, kind="weights", digest="sha256:" + "0" * 64, shape=(len(value.values),)
            )
        return None

    @opskit.hookimpl
    def infer_schema(self, value: object) -> Schema | None:
        if isinstance(value, Weights):
            return Schema((opskit.ColumnSpec("w", "int"),))
        return None

    @opskit.hookimpl
    def before_run(self, run: Run) -> None:
        self.calls.append(("before_run", run.status))

    @opskit.hookimpl
    def after_run(self, run: Run) -> None:
        self.calls.append(("after_run", run.status))

    @opskit.hookimpl
    def on_run_error(self, run: Run, error: BaseException) -> None:
        self.calls.append(("on_run_error", (run.status, str(error))))

    @opskit.hookimpl
    def after_model_registered(self, version: ModelVersion) -> None:
        self.calls.append(("after_model_registered", version.ref))

    @opskit.hookimpl
    def after_alias_changed(self, change: AliasChange) -> None:
        self.calls.append(
            ("after_alias_changed", (change.alias, change.previous_version, change.version))
        )

    @opskit.hookimpl
    def after_deploy(self, deployment: Any) -> None:
        self.calls.append(("after_deploy", deployment.name))

    @opskit.hookimpl
    def after_deployment_stopped(self, deployment: Any) -> None:
        self.calls.append(("after_deployment_stopped", deployment.name))

    @opskit.hookimpl
    def register_gates(self, register: Any) -> None:
        register("recorder_gate", lambda ctx: True)
        self.calls.append(("register_gates", None))

    @opskit.hookimpl
    def after_validation(self, run: Run, report: Any) -> None:
        self.calls.append(("after_validation", report.outcome))

    @opskit.hookimpl
    def on_drift_detected(self, report: Any, deployment: str | None) -> None:
        self.calls.append(("on_drift_detected", deployment))

    @opskit.hookimpl
    def on_performance_degraded(self, report: Any, deployment: str | None) -> None:
        self.calls.append(("on_performance_degraded", deployment))


class Weights:
    def __init__(self, values: list[int]) -> None:
        self.values = values


def test_every_hook_is_implemented_by_the_recorder() -> None:
    """Guard: the recorder (and so these tests) exercises every declared hook."""
    implemented = sorted(n for n, f in vars(Recorder).items() if hasattr(f, "opskit_impl"))
    assert implemented == HOOK_NAMES


def hook_signature(name: str) -> str:
    """``name(arg: Type, ...) -> Return`` as written in hookspecs.py."""
    annotations = dict(getattr(hookspecs, name).__annotations__)
    returns = annotations.pop("return")
    args = ", ".join(f"{arg}: {kind}" for arg, kind in annotations.items())
    return f"{name}({args}) -> {returns}"


def test_every_hook_is_documented_with_its_signature() -> None:
    """Guard: docs/plugins.md has a heading with each hook's exact signature."""
    docs = (ROOT / "docs" / "plugins.md").read_text()
    missing = [name for name in HOOK_NAMES if f"### `{hook_signature(name)}`" not in docs]
    assert missing == [], (
        f"document these hooks in docs/plugins.md: {[hook_signature(n) for n in missing]}"
    )


def test_lifecycle_and_firstresult_hooks_are_called() -> None:
    """A plugin's serializer wins over the built-ins, and every lifecycle hook fires in order."""
    recorder = Recorder()
    get_plugin_manager().register(recorder, name="recorder")
    try:

        @opskit.train(model="weights", alias="prod")
        def train(seed: Weights) -> Weights:
            return Weights([s * 2 for s in seed.values])

        train(Weights([1, 2, 3]))
        run = opskit.last_run()
        assert run is not None and run.model_version is not None
        assert run.model_version.flavor == "weights"
        assert run.model_version.signature == Schema((opskit.ColumnSpec("w", "int"),))
        assert run.inputs[0].kind == "weights"
        assert opskit.load_model("weights@prod").values == [2, 4, 6]

        @opskit.track
        def broken() -> None:
            raise RuntimeError("nope")

        with pytest.raises(RuntimeError):
            broken()
        events = [name for name, _ in recorder.calls if not name.startswith("register_")]
        lifecycle = [call for call in recorder.calls if not call[0].startswith("register_")]
        assert events == [
            "before_run",
            "after_model_registered",
            "after_alias_changed",
            "after_run",
            "deserialize_model",
            "before_run",
            "on_run_error",
            "after_run",
        ]
        assert lifecycle[-2] == ("on_run_error", ("FAILED", "nope"))
        assert lifecycle[2] == ("after_alias_changed", ("prod", None, 1))
    finally:
        get_plugin_manager().unregister(name="recorder")


def test_registration_hooks_fill_the_registry() -> None:
    """register_* hooks add factories; a target registered by a plugin is listed by name."""
    pm = create_plugin_manager(load_entrypoints=False)
    recorder = Recorder()
    pm.register(recorder)
    registry = build_registry(pm)
    assert registry.names("tracker") == ["local"]
    assert registry.names("storage") == ["fsspec", "local"]
    assert registry.names("target") == ["docker", "echo", "local"]
    assert registry.for_scheme("storage", "file").name == "local"
    assert registry.for_scheme("storage", "s3").name == "fsspec"
    assert {c for c, _ in recorder.calls} == {
        "register_trackers",
        "register_storages",
        "register_targets",
    }
    from opskit.monitor.methods import drift_methods
    from opskit.monitor.stats import NumericData

    methods = drift_methods(pm)
    assert methods["recorder_range"].plugin == pm.get_name(recorder) and "ks" in methods
    assert methods["recorder_range"].compute(
        NumericData.from_values([1, 2]), NumericData.from_values([1, 5])
    ) == (3.0, None)
    assert ("register_drift_methods", None) in recorder.calls
    with pytest.raises(opskit.UnknownBackend, match="opskit-ml\\[s3\\]"):
        registry.for_scheme("storage", "nosuchscheme")


def test_duplicate_backend_names_both_plugins() -> None:
    """Two plugins registering the same tracker name is an error naming both."""

    class Dup:
        @opskit.hookimpl
        def register_trackers(self, register: Any) -> None:
            register("local", lambda config: None)

    pm = create_plugin_manager(load_entrypoints=False)
    pm.register(Dup(), name="dup-plugin")
    with pytest.raises(opskit.DuplicateBackend, match="tracker named 'local'") as info:
        build_registry(pm)
    assert "'opskit.builtins.local_tracker'" in str(info.value) and "'dup-plugin'" in str(
        info.value
    )


def test_misspelled_hook_is_caught() -> None:
    """An implementation of an undeclared hook fails check_pending with a PluginError."""

    class Typo:
        @opskit.hookimpl
        def after_runn(self, run: Run) -> None:
            pass

    pm = create_plugin_manager(load_entrypoints=False)
    pm.register(Typo())
    import pluggy

    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


def _make_distribution(
    site: Path, body: str, *, name: str = "opskit-testplugin", module: str = "opskit_testplugin"
) -> None:
    """Write an installed distribution (module + .dist-info with an opskit entry point) into *site*."""
    (site / f"{module}.py").write_text(textwrap.dedent(body))
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[opskit]\ntestplugin = {module}\n")


MEMORY_STORAGE = """
    import io, opskit
    from opskit.storage.base import BlobInfo, digest_bytes
    from opskit.errors import BlobNotFound

    BLOBS = {}

    class MemoryStorage:
        name = "memory-test"
        def __init__(self, location):
            self.location = location
        def put_bytes(self, data):
            digest = digest_bytes(data)
            BLOBS[digest] = bytes(data)
            return BlobInfo(digest, len(data))
        def put_file(self, path):
            return self.put_bytes(open(path, "rb").read())
        def get_bytes(self, digest):
            if digest not in BLOBS:
                raise BlobNotFound(digest)
            return BLOBS[digest]
        def get_file(self, digest, dest):
            dest.write_bytes(self.get_bytes(digest)); return dest
        def open(self, digest):
            return io.BytesIO(self.get_bytes(digest))
        def exists(self, digest):
            return digest in BLOBS
        def delete(self, digest):
            BLOBS.pop(digest, None)
        def iter_digests(self):
            return iter(sorted(BLOBS))
        def verify(self, digest):
            return digest_bytes(BLOBS[digest]) == digest

    @opskit.hookimpl
    def register_storages(register):
        register("memory-test", lambda config, location: MemoryStorage(location), schemes=("memtest",))
"""


def test_entry_point_plugin_selected_by_url_without_code_change(tmp_path: Path) -> None:
    """An installed distribution's storage is found via the `opskit` entry point group and picked by URL."""
    site = tmp_path / "site"
    site.mkdir()
    _make_distribution(site, MEMORY_STORAGE)
    code = textwrap.dedent(
        """
        import opskit, opskit_testplugin

        @opskit.train(model="m")
        def train(k=2):
            return {"k": k}

        train(k=9)
        assert opskit.load_model("m") == {"k": 9}
        assert len(opskit_testplugin.BLOBS) == 3  # the model; the function (pickle + note)
        names = [p.name for p in opskit.plugins.list_plugins()]
        assert "testplugin" in names, names
        info = [p for p in opskit.plugins.list_plugins() if p.name == "testplugin"][0]
        print(info.distribution, info.hooks)
        """
    )
    out = run_python(code, env={"PYTHONPATH": str(site), "OPSKIT_STORAGE": "memtest://bucket"})
    assert out.stdout.strip() == "opskit-testplugin 0.1 ('register_storages',)"
    assert not (Path(opskit.get_config().home) / "blobs").exists()


def test_broken_plugin_fails_loudly_and_can_be_disabled(tmp_path: Path) -> None:
    """A plugin that fails to import names its distribution and the switch to disable it."""
    site = tmp_path / "site"
    site.mkdir()
    _make_distribution(site, "raise ImportError('missing dependency foo')\n")
    code = "import opskit\nprint([p.name for p in opskit.plugins.list_plugins() if p.name == 'testplugin'])"
    failed = run_python(code, env={"PYTHONPATH": str(site)}, check=False)
    assert failed.returncode != 0
    assert (
        "opskit-testplugin" in failed.stderr
        and "OPSKIT_DISABLE_PLUGINS=testplugin" in failed.stderr
    )
    # Other installed plugins (opskit-mlflow in the test environment) still load; the disabled one does not.
    loaded = run_python(
        code, env={"PYTHONPATH": str(site), "OPSKIT_DISABLE_PLUGINS": "testplugin"}
    ).stdout
    assert "testplugin" not in loaded
    assert (
        run_python(code, env={"PYTHONPATH": str(site), "OPSKIT_LOAD_PLUGINS": ""}).stdout.strip()
        == "[]"
    )


def test_trace_hooks_logs_calls() -> None:
    """OPSKIT_TRACE_HOOKS=1 writes each hook call to stderr."""
    out = run_python(
        "import opskit\n@opskit.track\ndef f(x=1):\n    return x\nf()",
        env={"OPSKIT_TRACE_HOOKS": "1"},
    )
    assert "before_run" in out.stderr and "after_run" in out.stderr
