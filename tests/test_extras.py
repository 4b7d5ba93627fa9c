"""A feature whose optional extra is not installed raises MissingExtra naming the extra and the
pip command, before it changes anything: no ModuleNotFoundError from deep inside, no server
traceback, no half-made deployment, no silently missing reference profile."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression

import opskit
import opskit.distribution as distribution
import opskit.monitor
from conftest import run_python
from opskit.cli.main import main as cli
from opskit.distribution import EXTRA_MODULES

ROOT = Path(__file__).resolve().parents[1]
#: Distribution names whose import name differs.
IMPORT_NAME = {"scikit-learn": "sklearn", "prometheus-client": "prometheus_client"}


def _missing(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make *modules* unimportable for the rest of the test (``import`` and ``find_spec`` see None)."""
    monkeypatch.setattr(distribution, "_found", set())
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize("extra", sorted(EXTRA_MODULES))
def test_the_extra_table_matches_pyproject(extra: str) -> None:
    """EXTRA_MODULES lists exactly the import names of pyproject.toml's optional dependencies."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ][extra]
    names = {re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0] for d in declared}
    assert set(EXTRA_MODULES[extra]) == {IMPORT_NAME.get(n, n) for n in names}


NEEDS = sorted(
    (name, module) for name, modules in opskit.monitor._NEEDS.items() for module in modules
)


@pytest.mark.parametrize(("name", "module"), NEEDS)
def test_a_monitor_function_names_the_missing_extra(
    monkeypatch: pytest.MonkeyPatch, name: str, module: str
) -> None:
    """opskit.monitor.<name> without one package it needs: MissingExtra naming it and the pip command."""
    monkeypatch.delitem(
        vars(opskit.monitor), name, raising=False
    )  # not cached from an earlier lookup
    _missing(monkeypatch, module)
    with pytest.raises(opskit.MissingExtra) as caught:
        getattr(opskit.monitor, name)
    message = str(caught.value)
    assert f"opskit.monitor.{name} needs the 'monitor' extra" in message
    assert f"{module} is not installed" in message
    assert "pip install 'opskit-ml[monitor]'" in message
    assert isinstance(caught.value, ImportError)  # code catching ImportError still works


def test_every_monitor_function_declares_what_it_needs() -> None:
    """Each function of opskit.monitor's export table has an entry in _NEEDS (the classes need nothing)."""
    functions = {
        name
        for name in opskit.monitor.__all__
        if callable(getattr(opskit.monitor, name))
        and not isinstance(getattr(opskit.monitor, name), type)
    }
    assert functions == set(opskit.monitor._NEEDS)


@pytest.mark.parametrize("module", EXTRA_MODULES["serve"])
def test_deploying_without_the_serve_extra_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, store: Path, module: str
) -> None:
    """opskit.deploy without a serve package: MissingExtra before any folder, record or process."""
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    opskit.models.register(LinearRegression().fit(X, [2.0, 4.0, 6.0]), "m", signature=X)
    _missing(monkeypatch, module)
    with pytest.raises(opskit.MissingExtra, match=rf"'serve' extra, and {module} is not installed"):
        opskit.deploy("m", name="nosrv")
    assert opskit.deployments.list() == []
    assert not (store / "deployments" / "nosrv").exists()


def test_the_model_server_names_the_missing_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m opskit.serve SPEC` without starlette: exit 2 with the pip command, not a traceback."""
    from opskit.serve.__main__ import main as serve

    spec = tmp_path / "spec.json"
    spec.write_text('{"port": 0, "variants": []}')
    _missing(monkeypatch, "starlette")
    with pytest.raises(SystemExit) as caught:
        serve([str(spec)])
    assert caught.value.code == 2
    assert "pip install 'opskit-ml[serve]'" in capsys.readouterr().err


@pytest.fixture
def frames(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500)}).to_parquet(ref)
    pd.DataFrame({"a": rng.normal(size=300)}).to_parquet(cur)
    return ref, cur


def test_cli_drift_without_the_extra_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, frames: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cur = frames
    _missing(monkeypatch, "scipy")
    assert cli(["monitor", "drift", "--reference", str(ref), "--current", str(cur)]) == 2
    err = capsys.readouterr().err
    assert "opskit monitor drift needs the 'monitor' extra, and scipy is not installed" in err
    _missing(monkeypatch, "plotly")
    monkeypatch.delitem(sys.modules, "scipy")
    html = str(ref.with_name("r.html"))
    assert (
        cli(["monitor", "drift", "--reference", str(ref), "--current", str(cur), "--html", html])
        == 2
    )
    assert "plotly is not installed" in capsys.readouterr().err
    assert not Path(html).exists()


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flag=st.sampled_from(["--drift-share", "--alpha"]),
    value=st.one_of(
        st.floats(max_value=0.0, allow_nan=False), st.floats(min_value=1.0001, allow_nan=False)
    ),
)
def test_cli_messages_use_the_cli_option_names(
    frames: tuple[Path, Path], capsys: pytest.CaptureFixture[str], flag: str, value: float
) -> None:
    """A bad --drift-share/--alpha, or columns that do not match: the message speaks in flags (exit 2)."""
    ref, _ = frames
    args = ["monitor", "drift", "--reference", str(ref), "--current", str(ref), f"{flag}={value!r}"]
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert f"{flag} must be a number" in err
    assert "drift_share" not in err and not re.search(r"(?<!--)alpha must", err)


def test_cli_column_hint_uses_the_columns_flag(
    frames: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cur = frames  # cur lacks column b
    assert cli(["monitor", "drift", "--reference", str(ref), "--current", str(cur)]) == 2
    err = capsys.readouterr().err
    assert "column 'b'" in err and "--columns A,B" in err and "columns=[" not in err
    assert (
        cli(["monitor", "drift", "--reference", str(ref), "--current", str(cur), "--columns", "a"])
        == 0
    )


PLAIN_MODEL = """
import sys, warnings
BLOCK
import pandas as pd
import opskit

class Doubler:
    def predict(self, X):
        return X["x"] * 2

X = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    version = opskit.models.register(Doubler(), "m", signature=X, reference=X)
print(version.version)
print([str(w.message) for w in seen if issubclass(w.category, opskit.OpskitWarning)])
try:
    opskit.monitor.drift
except ImportError as exc:
    print(f"{type(exc).__name__}: {exc}")
"""


def test_a_profile_needs_only_numpy_and_drift_names_the_missing_extra(store: Path) -> None:
    """Without scipy the profile is still stored at registration; drift() then asks for the extra."""
    out = run_python(PLAIN_MODEL.replace("BLOCK", 'sys.modules["scipy"] = None')).stdout
    lines = out.splitlines()
    assert lines[:2] == ["1", "[]"]
    assert "MissingExtra: opskit.monitor.drift needs the 'monitor' extra, and scipy is not" in out
    assert opskit.monitor.reference_profile("m:1").rows == 3  # stored, read here (scipy present)


def test_a_profile_that_cannot_be_made_is_never_skipped_silently(store: Path) -> None:
    """When profiling cannot even be imported, registration still succeeds and warns that no profile is stored."""
    out = run_python(
        PLAIN_MODEL.replace("BLOCK", 'sys.modules["opskit.monitor.profiles"] = None')
    ).stdout
    assert out.splitlines()[0] == "1"
    assert "no reference profile is stored with this version" in out
    with pytest.raises(opskit.errors.ProfileNotFound):
        opskit.monitor.reference_profile("m:1")


def test_an_html_report_without_plotly_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, frames: tuple[Path, Path], tmp_path: Path
) -> None:
    """report.to_html() without plotly: MissingExtra naming it, and no file written."""
    ref, _ = frames
    report = opskit.monitor.drift(pd.read_parquet(ref), pd.read_parquet(ref))
    _missing(monkeypatch, "plotly")
    target = tmp_path / "drift.html"
    with pytest.raises(opskit.MissingExtra, match="plotly is not installed"):
        report.to_html(target)
    assert not target.exists()


def test_the_all_extra_includes_every_feature_extra() -> None:
    """`pip install 'opskit-ml[all]'` brings serving and monitoring too (each extra that MissingExtra names)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    (combined,) = extras["all"]
    included = set(re.search(r"\[(.*)\]", combined).group(1).split(","))  # type: ignore[union-attr]
    assert set(EXTRA_MODULES) <= included
