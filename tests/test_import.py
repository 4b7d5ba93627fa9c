"""``import opskit`` stays light: no heavy libraries, no plugin loading, no side effects."""

from __future__ import annotations

import json

import opskit
from conftest import run_python


def test_import_loads_no_heavy_library() -> None:
    """Importing opskit (and touching the decorators) imports none of pandas, sklearn, numpy, mlflow, scipy, or the web server."""
    out = run_python(
        "import sys, json, opskit\n"
        "opskit.train; opskit.track; opskit.log_metric; opskit.load_model\n"
        "opskit.deploy; opskit.deployments.list; opskit.Deployment\n"
        "heavy = ['pandas', 'sklearn', 'numpy', 'mlflow', 'scipy', 'starlette', 'uvicorn', 'prometheus_client']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    assert json.loads(out.stdout) == []


def test_bare_import_has_no_side_effects(tmp_path) -> None:
    """A bare import neither creates the store nor loads plugins."""
    out = run_python(
        "import sys, opskit\nprint('pluggy' in sys.modules, 'opskit.plugins' in sys.modules)",
        cwd=tmp_path,
    )
    assert out.stdout.split() == ["False", "False"]
    assert not (tmp_path / ".opskit").exists()


def test_public_api_is_sorted_and_resolvable() -> None:
    """Every name in __all__ resolves, and __all__ is sorted."""
    assert opskit.__all__ == sorted(opskit.__all__)
    for name in opskit.__all__:
        assert getattr(opskit, name) is not None
