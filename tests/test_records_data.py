"""Records are data: read-only maps, no I/O methods, a serialization round trip; deployments talk through a client."""

from __future__ import annotations

import json
import pickle
import typing
from collections.abc import Mapping
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import opskit
from opskit import records
from opskit.deployments.client import DeploymentClient
from opskit.records import Deployment, DeploymentSpec, Model, ModelVersion, Run, SerializedModel
from opskit.records.runs import EnvInfo
from opskit.serialize import from_dict, to_dict

_KEYS = st.text(min_size=1, max_size=8)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=6,
)


def _record_classes() -> list[type]:
    return [getattr(records, name) for name in records.__all__ if attrs.has(getattr(records, name))]


def _map_fields() -> list[tuple[type, str]]:
    found = []
    for cls in _record_classes():
        hints = typing.get_type_hints(cls)
        for f in attrs.fields(cls):
            if typing.get_origin(hints[f.name]) in (dict, Mapping):
                found.append((cls, f.name))
    return found


def test_every_map_field_of_every_record_is_read_only() -> None:
    """Every dict-like field of every frozen record is typed Mapping and frozen by its converter."""
    fields = _map_fields()
    assert (
        len(fields) >= 9
    )  # params, metrics, tags, packages, metadata x2, aliases, weights, variants, options
    for cls, name in fields:
        hints = typing.get_type_hints(cls)
        assert typing.get_origin(hints[name]) is Mapping, (
            f"{cls.__name__}.{name} should be typed Mapping (read-only)"
        )
        converter = attrs.fields_dict(cls)[name].converter
        assert converter is not None, f"{cls.__name__}.{name} has no converter"
        frozen_value = converter({"k": 1})  # type: ignore[operator]
        with pytest.raises(TypeError, match="read-only"):
            frozen_value["k"] = 2
        with pytest.raises(TypeError, match="read-only"):
            frozen_value.update(k=3)
        with pytest.raises(TypeError, match="read-only"):
            del frozen_value["k"]
        assert dict(frozen_value) == {"k": 1}


def test_a_caller_mutating_its_own_dict_does_not_change_the_record() -> None:
    """The record copies the map it is given: changing the caller's dict afterwards changes nothing."""
    params: dict[str, Any] = {"alpha": 0.1}
    run = Run(
        id="a" * 32, name="r", status="FINISHED", experiment="e", started_at=1.0, params=params
    )
    params["alpha"] = 99
    assert run.params == {"alpha": 0.1}


@given(
    params=st.dictionaries(_KEYS, _VALUES, max_size=5),
    tags=st.dictionaries(_KEYS, st.text(max_size=8), max_size=5),
)
def test_records_with_read_only_maps_round_trip(
    params: dict[str, Any], tags: dict[str, str]
) -> None:
    """to_dict/from_dict, JSON and pickle give back an equal record whose maps are still read-only."""
    version = ModelVersion(
        name="m", version=1, digest="sha256:" + "0" * 64, size_bytes=1, flavor="f", metadata=params
    )
    run = Run(
        id="b" * 32,
        name="r",
        status="FINISHED",
        experiment="e",
        started_at=1.0,
        params=params,
        tags=tags,
        metrics={"x": 1.5},
        env=EnvInfo("3.11", "cpython", "linux", {"attrs": "23"}),
        model_version=version,
    )
    for record in (run, version, Model("m", 1.0, (version,), {"prod": 1})):
        again = from_dict(json.loads(json.dumps(to_dict(record))))
        assert again == record
        assert pickle.loads(pickle.dumps(record)) == record
    serialized = SerializedModel("f", b"x", params)  # bytes: not JSON, but it pickles
    assert pickle.loads(pickle.dumps(serialized)) == serialized
    again = from_dict(json.loads(json.dumps(to_dict(run))))
    assert json.loads(json.dumps(dict(again.params))) == json.loads(json.dumps(params))
    with pytest.raises(TypeError):
        again.params["new"] = 1  # type: ignore[index]


def test_records_have_no_io_methods() -> None:
    """Deployment is data only; the I/O lives on DeploymentClient (a subclass equal to its record)."""
    for name in ("predict", "status", "stop", "logs", "predictions"):
        assert not hasattr(Deployment, name)
        assert callable(getattr(DeploymentClient, name))
    record = Deployment(name="d", target="echo", url=None, refs=("m:1",), weights={"m:1": 1.0})
    client = DeploymentClient.of(record)
    assert client == record and record == client
    assert type(client.record) is Deployment and client.record == record
    assert from_dict(to_dict(record)) == record
    assert (
        to_dict(client)["type"] == "Deployment" and type(from_dict(to_dict(client))) is Deployment
    )
    spec = DeploymentSpec(name="d", target="local", variants={"m:1": 1.0})
    with pytest.raises(TypeError):
        spec.variants["m:2"] = 0.5  # type: ignore[index]


def test_a_client_without_url_explains_itself() -> None:
    """predict() on a deployment without a URL raises DeploymentError naming it."""
    client = DeploymentClient.of(Deployment(name="built", target="docker", url=None, refs=("m:1",)))
    with pytest.raises(opskit.DeploymentError, match="'built'"):
        client.predict([{"x": 1.0}])


def test_old_record_import_paths_keep_working() -> None:
    """opskit.records and opskit.deployments.target keep every name they exported."""
    from opskit.deployments.target import Deployment as OldDeployment
    from opskit.deployments.target import DeploymentSpec as OldSpec
    from opskit.deployments.target import request_body
    from opskit.records import (
        RUN_STATUSES,
        AliasChange,
        ColumnSpec,
        DataInput,
        RunList,
        Schema,
        _html_table,
    )

    assert OldDeployment is Deployment and OldSpec is DeploymentSpec
    assert request_body([[1.0]]) == {"inputs": [[1.0]]}
    assert RUN_STATUSES[0] == "RUNNING" and callable(_html_table)
    assert all(attrs.has(c) for c in (AliasChange, ColumnSpec, DataInput, Schema)) and issubclass(
        RunList, list
    )
