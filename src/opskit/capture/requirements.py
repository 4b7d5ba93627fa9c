"""Pinned requirements from a run's captured environment, and the modules a training process imported.

At the end of every ``@opskit.train`` / ``@opskit.track`` call the top-level
modules the process had imported, other than the standard library's
(``sys.modules`` against ``sys.stdlib_module_names``), are recorded on the run as
the tag ``opskit.imports``: a few microseconds per run (cached while nothing new
is imported). That set covers the training code and the model's flavor (the
model was serialized in that process). ``requirements(...)`` maps those modules
to distributions (``importlib.metadata.packages_distributions()`` of the
environment asking, else a distribution of the module's own name) and pins the
ones the run captured, at the versions in ``run.env.packages``. For a run
without the tag (recorded earlier, or by ``start_run``) it pins every captured
package; the first line of the file says which of the two it did.
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
    "OWN_DISTRIBUTIONS",
    "Requirements",
    "distributions_for",
    "imported_modules",
    "imports_tag",
    "normal_name",
    "requirements",
    "run_imports",
]

#: The tag holding the comma-separated top-level modules (not the standard library's) a run's process imported.
IMPORTS_TAG = "opskit.imports"
#: The distributions that are opskit itself (the docker target copies opskit into the context).
OWN_DISTRIBUTIONS = frozenset({"opskit-ml", "opskit-mlflow"})
#: The distribution that provides opskit (an editable install maps no module to it).
OWN_DISTRIBUTION = "opskit-ml"
_MAX_TAG_CHARS = 8000
_NOT_PACKAGES = frozenset({"__main__", "__mp_main__", "builtins", "cython_runtime"})

Source = Literal["imported", "all"]


def _strings(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def normal_name(name: str) -> str:
    """A distribution name as PEP 503 compares it (``Scikit_Learn`` → ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _not_third_party() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names) | _NOT_PACKAGES


#: (len(sys.modules), answer) of the last call: a training loop asks once per run.
_last: tuple[int, tuple[str, ...]] | None = None


def imported_modules() -> tuple[str, ...]:
    """The top-level modules this process has imported, standard library left out, sorted.

    O(1) while nothing new is imported (cached by the size of ``sys.modules``).
    """
    global _last
    count = len(sys.modules)
    if _last is not None and _last[0] == count:
        return _last[1]
    skip = _not_third_party()
    tops = {name.partition(".")[0] for name in list(sys.modules)}
    found = tuple(
        sorted(name for name in tops if name not in skip and not name.startswith("_sysconfigdata"))
    )
    _last = (count, found)
    return found


def imports_tag() -> dict[str, str]:
    """``{IMPORTS_TAG: "numpy,pandas,..."}`` for this process, or ``{}`` when it would exceed a tag's size."""
    return _tag_of(imported_modules())


@functools.cache
def _tag_of(names: tuple[str, ...]) -> dict[str, str]:
    text = ",".join(names)
    return {IMPORTS_TAG: text} if len(text) <= _MAX_TAG_CHARS else {}


@functools.cache
def _module_owners() -> dict[str, tuple[str, ...]]:
    """Top-level module → the distributions providing it in this environment (read once per process)."""
    return {
        module: tuple(dict.fromkeys(dists))
        for module, dists in metadata.packages_distributions().items()
    }


def distributions_for(
    modules: Iterable[str], captured: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """(captured distributions providing *modules*, modules matched to none), by normalized name.

    A module is matched through this environment's ``packages_distributions()``, else to a
    captured distribution of the same (normalized) name. opskit's own distribution is
    always included when it was captured: loading the model needs it.
    """
    known = {normal_name(name): name for name in captured}
    owners = _module_owners()
    found: dict[str, str] = {}
    unmatched: list[str] = []
    for module in modules:
        candidates = [normal_name(d) for d in owners.get(module, ())] + [normal_name(module)]
        if module == "opskit":
            candidates.append(OWN_DISTRIBUTION)
        hits = [c for c in dict.fromkeys(candidates) if c in known]
        if not hits:
            if not module.startswith("_"):  # private helpers (_pytest, _cffi_backend) of a package
                unmatched.append(module)
            continue
        for hit in hits:
            found.setdefault(hit, known[hit])
    if OWN_DISTRIBUTION in known:
        found.setdefault(OWN_DISTRIBUTION, known[OWN_DISTRIBUTION])
    return [found[k] for k in sorted(found)], unmatched


def run_imports(run: Run) -> tuple[str, ...] | None:
    """The top-level modules recorded as imported by the run's process, or None when not recorded."""
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

    ``source`` is ``"imported"`` (only the distributions providing modules the training
    process imported, plus ``extra``) or ``"all"`` (every captured package: the run did not record its imports).
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

    Only the distributions providing the modules the run's process imported when that was
    recorded (tag ``opskit.imports``; ``distributions_for``), else every captured package. *extra* distributions are always
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
    unmatched: list[str] = []
    if imports is not None:
        wanted, unmatched = distributions_for(imports, captured)
    else:
        wanted = list(captured)
    wanted += [name for name in extra if normal_name(name) not in {normal_name(w) for w in wanted}]
    skip = {normal_name(name) for name in exclude}
    wanted = [name for name in wanted if normal_name(name) not in skip]
    lines = _pins(wanted, known)
    pinned = {normal_name(line.split("==", 1)[0]) for line in lines}
    missing = tuple(sorted({name for name in wanted if normal_name(name) not in pinned}))
    run_text = f"run {run.id}" if run is not None else "no run"
    python = env.python if env is not None else None
    if run is None or env is None or not captured:
        what = (
            f"# {subject}: {run_text} has no captured packages; versions are this environment's"
            if fallback
            else f"# {subject}: {run_text} has no captured packages (capture_env was off)"
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
    if unmatched:
        header.append(
            "# imported modules matched to no captured distribution: " + ", ".join(unmatched)
        )
    return Requirements(lines, source, header, python, missing)


def version_requirements(version: ModelVersion, run: Run | None) -> Requirements:
    """``opskit models requirements REF``: the pins for the run that produced *version*."""
    return requirements(run, subject=version.ref)
