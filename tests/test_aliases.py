"""opskit.models.set_alias on every tracker: what it accepts as a version, and that a no-op move records nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import opskit
from opskit._backends import get_tracker
from opskit.plugins import get_plugin_manager
from opskit.records import AliasChange

pytestmark = pytest.mark.trackers("local", "mlflow")
DIGEST = "sha256:" + "cd" * 32


class AliasRecorder:
    """A plugin that records every after_alias_changed call."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, int | None, int | None]] = []

    @opskit.hookimpl
    def after_alias_changed(self, change: AliasChange) -> None:
        self.changes.append((change.alias, change.previous_version, change.version))


@pytest.fixture
def recorder(tracker: str) -> Iterator[AliasRecorder]:
    """Two models, 'wine' (versions 1, 2) and 'beer' (version 1), and a hook recorder."""
    for name in ("wine", "wine", "beer"):
        get_tracker().register_model_version(
            name,
            digest=DIGEST,
            size_bytes=1,
            flavor="sklearn",
            run_id=None,
            signature=None,
            metadata={},
        )
    plugin = AliasRecorder()
    get_plugin_manager().register(plugin, name="alias-recorder")
    yield plugin
    get_plugin_manager().unregister(name="alias-recorder")


def test_resetting_an_alias_to_its_version_records_nothing(recorder: AliasRecorder) -> None:
    """Setting an alias to the version it already points at adds no history entry and fires no hook."""
    first = opskit.models.set_alias("wine", "production", 1)
    again = opskit.models.set_alias("wine", "production", 1)
    assert (first.previous_version, first.version) == (None, 1)
    assert (again.previous_version, again.version) == (1, 1)
    assert [(c.alias, c.previous_version, c.version) for c in opskit.models.history("wine")] == [
        ("production", None, 1)
    ]
    assert recorder.changes == [("production", None, 1)]
    opskit.models.set_alias("wine", "production", 2)
    opskit.models.set_alias("wine", "production", opskit.models.get_version("wine:2"))
    assert [c.version for c in opskit.models.history("wine", "production")] == [1, 2]
    assert recorder.changes == [("production", None, 1), ("production", 1, 2)]
    assert opskit.models.get("wine").aliases == {"production": 2}


def test_set_alias_accepts_a_model_version_of_that_model(recorder: AliasRecorder) -> None:
    """A ModelVersion of the same model works like its number."""
    change = opskit.models.set_alias("wine", "staging", opskit.models.get_version("wine:2"))
    assert (change.model, change.alias, change.version) == ("wine", "staging", 2)
    assert opskit.models.get_version("wine@staging").version == 2


def test_set_alias_refuses_a_version_of_another_model(recorder: AliasRecorder) -> None:
    """A ModelVersion of another model is refused with an OpskitError naming both models; nothing moves."""
    beer = opskit.models.get_version("beer:1")
    with pytest.raises(
        opskit.InvalidModelRef, match=r"beer:1 is a version of model 'beer', not of 'wine'"
    ):
        opskit.models.set_alias("wine", "production", beer)
    assert opskit.models.get("wine").aliases == {} and opskit.models.get("beer").aliases == {}
    assert opskit.models.history("wine") == [] and recorder.changes == []


@pytest.mark.parametrize("version", ["abc", "", "1.5", 0, -1, True, 1.0, None, [1]])
def test_set_alias_refuses_what_is_not_a_version_number(
    recorder: AliasRecorder, version: Any
) -> None:
    """Anything but an int >= 1, its text or a ModelVersion is an OpskitError (not a bare ValueError/TypeError)."""
    with pytest.raises(opskit.InvalidModelRef, match="not a version number"):
        opskit.models.set_alias("wine", "production", version)
    assert opskit.models.history("wine") == [] and recorder.changes == []


def test_set_alias_accepts_the_text_of_a_number(recorder: AliasRecorder) -> None:
    """'2' (as typed on a command line) means version 2."""
    assert opskit.models.set_alias("wine", "production", "2").version == 2
