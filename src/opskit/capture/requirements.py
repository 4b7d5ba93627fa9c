"""Pinned requirements from a run's captured environment, and the imported distributions recorded at capture.

At the end of every ``@opskit.train`` / ``@opskit.track`` call the distributions
whose modules the training process had imported (top-level names of
``sys.modules`` mapped through ``importlib.metadata.packages_distributions()``,
which is computed once per process) are recorded on the run as the tag
``opskit.imports``. That set covers the training code and the model's flavor
(the model was serialized in that process). ``requirements(...)`` pins those
distributions at the versions in ``run.env.packages``; for a run without the tag
(recorded before opskit 0.2, or by ``start_run``) it pins every captured package,
and the first line of the file says which of the two it did.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Literal

from attrs import field, frozen

if TYPE_CHECKING:
    from opskit.records import ModelVersion, Run

__all__ = [
    "IMPORTS_TAG",
    "Requirements",
    "imported_distributions",
    "normal_name",
    "requirements",
    "run_imports",
]

#: The tag holding the comma-separated distribution names a run's process had imported.
IMPORTS_TAG = "opskit.imports"
#: The distributions that are opskit itself (the docker target copies opskit into the context).
OPSKIT_DISTRIBUTIONS = frozenset({"opskit-ml", "opskit-mlflow"})
_MAX_TAG_CHARS = 8000

Source = Literal["imported", "all"]


def _strings(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def normal_name(name: str) -> str:
    """A distribution name as PEP 503 compares it (``Scikit_Learn`` → ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _module_owners() -> dict[str, tuple[str, ...]]:
    """Top-level module → the distributions providing it (read once per process)."""
    return {
        module: tuple(dict.fromkeys(dists))
        for module, dists in metadata.packages_distributions().items()
    }


@functools.cache
def _owners_of(modules: frozenset[str]) -> tuple[str, ...]:
    owners = _module_owners()
    found: dict[str, str] = {}
    for module in modules:
        for dist in owners.get(module, ()):
            found.setdefault(normal_name(dist), dist)
    return tuple(sorted(found.values(), key=normal_name))


@functools.cache
def _opskit_distribution() -> str | None:
    """The distribution opskit was installed as (an editable install maps no module to it)."""
    try:
        return metadata.distribution("opskit-ml").metadata["Name"] or None
    except metadata.PackageNotFoundError:
        return None


def imported_distributions() -> tuple[str, ...]:
    """The distributions whose top-level modules this process has imported (opskit's too), sorted by name.

    Cheap after the first call: the module → distribution map is read once per process, and
    the answer is cached per set of imported top-level modules.
    """
    tops = frozenset(name.partition(".")[0] for name in list(sys.modules))
    found = _owners_of(tops)
    own = _opskit_distribution()  # loading the model needs opskit's deserializer
    if own is None or normal_name(own) in {normal_name(n) for n in found}:
        return found
    return tuple(sorted((*found, own), key=normal_name))


def imports_tag() -> dict[str, str]:
    """``{IMPORTS_TAG: "a,b,c"}`` for this process, or ``{}`` when it would exceed a tag's size."""
    text = ",".join(imported_distributions())
    return {IMPORTS_TAG: text} if len(text) <= _MAX_TAG_CHARS else {}


def run_imports(run: Run) -> tuple[str, ...] | None:
    """The distributions recorded as imported by the run's process, or None when not recorded."""
    text = run.tags.get(IMPORTS_TAG)
    if text is None:
        return None
    return tuple(name for name in text.split(",") if name)


def _pins(packages: Iterable[str], known: Mapping[str, str]) -> list[str]:
    pins: dict[str, str] = {}
    for name in packages:
        key = normal_name(name)
        version = known.get(key)
        if version is not None and key not in pins:
            pins[key] = f"{name}=={version}"
    return [pins[k] for k in sorted(pins)]


@frozen
class Requirements:
    """A pinned requirements file: ``lines`` (``name==version``), ``source`` and the comment ``header``.

    ``source`` is ``"imported"`` (only the distributions the training process imported, plus
    ``extra``) or ``"all"`` (every captured package: the run did not record its imports).
    ``missing`` names wanted distributions with no captured version (left out of ``lines``).
    """

    lines: tuple[str, ...] = field(converter=_strings)
    source: Source
    header: tuple[str, ...] = field(converter=_strings)
    python: str | None = None
    missing: tuple[str, ...] = field(default=(), converter=_strings)

    def text(self) -> str:
        """The file's content: the header comments, then one pin per line."""
        return "\n".join([*self.header, *self.lines]) + "\n"

    def __str__(self) -> str:
        return self.text()

    def as_dict(self) -> dict[str, str]:
        """Distribution name → pinned version."""
        return {name: version for name, _, version in (line.partition("==") for line in self.lines)}


def requirements(
    run: Run | None,
    *,
    subject: str,
    extra: Sequence[str] = (),
    exclude: Iterable[str] = (),
    fallback: Mapping[str, str] | None = None,
) -> Requirements:
    """Pins for the environment that produced *subject* (e.g. ``churn:3``), from *run*'s capture.

    Only the distributions the run's process imported when that was recorded (tag
    ``opskit.imports``), else every captured package. *extra* distributions are always
    wanted (the docker target adds the model server's); *exclude* are never written.
    A wanted distribution the run did not capture is pinned at *fallback*'s version
    (the docker target passes this environment's), else listed in ``missing``.
    """
    env = run.env if run is not None else None
    captured = dict(env.packages) if env is not None else {}
    known = {normal_name(k): v for k, v in captured.items()}
    for name, version in (fallback or {}).items():
        known.setdefault(normal_name(name), version)
    imports = run_imports(run) if run is not None else None
    source: Source = "imported" if imports is not None else "all"
    wanted = list(imports) if imports is not None else list(captured)
    wanted += [name for name in extra if normal_name(name) not in {normal_name(w) for w in wanted}]
    skip = {normal_name(name) for name in exclude}
    wanted = [name for name in wanted if normal_name(name) not in skip]
    lines = _pins(wanted, known)
    pinned = {normal_name(line.split("==", 1)[0]) for line in lines}
    missing = tuple(sorted({name for name in wanted if normal_name(name) not in pinned}))
    run_text = f"run {run.id}" if run is not None else "no run"
    python = env.python if env is not None else None
    if run is None or env is None:
        what = (
            f"# {subject}: {run_text} has no captured environment; versions are this environment's"
        )
    elif source == "imported":
        what = f"# {subject}: only the distributions imported by the training process ({run_text})"
    else:
        what = (
            f"# {subject}: every package captured with {run_text} (its imports were not recorded)"
        )
    header = [what, f"# Python {python or '.'.join(map(str, sys.version_info[:3]))}"]
    if missing:
        header.append("# not pinned (no captured version): " + ", ".join(missing))
    return Requirements(lines, source, header, python, missing)


def version_requirements(version: ModelVersion, run: Run | None) -> Requirements:
    """``opskit models requirements REF``: the pins for the run that produced *version*."""
    return requirements(run, subject=version.ref)
