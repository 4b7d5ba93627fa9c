"""``opskit data list|show``: tables for people, ``--json`` for machines, clear errors, on both trackers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import opskit
from opskit.cli.main import main as cli

pytestmark = pytest.mark.trackers("local", "mlflow")


def test_data_list_and_show(tracker: str, capsys: pytest.CaptureFixture[str]) -> None:
    """list shows every dataset with its latest version and aliases; show lists versions or details one."""
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    opskit.log_data("customers", df)
    opskit.log_data("customers", df.iloc[:2], alias="train")
    opskit.log_data("weights", np.zeros((2, 2)))

    assert cli(["data", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["DATASET", "VERSIONS", "LATEST"]
    assert lines[2].split()[:3] == ["customers", "2", "2"] and "train→2" in lines[2]
    assert lines[3].split()[:3] == ["weights", "1", "1"]

    assert cli(["data", "show", "customers"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dataset customers") and "3x2" in out and "2x2" in out

    assert cli(["data", "show", "customers@train"]) == 0
    out = capsys.readouterr().out
    assert "dataset version customers:2  (reference customers@train)" in out
    assert "columns: a: int64, b:" in out and "stored as parquet" in out

    assert cli(["data", "show", "customers:1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["type"] == "DatasetVersion" and doc["version"] == 1 and doc["shape"] == [3, 2]
    assert cli(["--json", "data", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in listed] == ["customers", "weights"]
    assert listed[0]["aliases"] == {"train": 2}


def test_data_show_errors(tracker: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown datasets and bad references exit 2 with a message saying what to do."""
    opskit.log_data("customers", np.arange(3))
    assert cli(["data", "show", "nope"]) == 2
    assert "no dataset named 'nope'" in capsys.readouterr().err
    assert cli(["data", "show", "customers:5"]) == 2
    assert "has no version 5" in capsys.readouterr().err
    assert cli(["data", "show", "customers:zero"]) == 2
    assert "invalid dataset reference" in capsys.readouterr().err
