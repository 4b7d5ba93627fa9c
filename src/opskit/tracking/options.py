"""The options of ``@opskit.train`` / ``@opskit.track``, each declared once as a checked field.

Kept apart from the decorators so the pipeline, which reads them, and the decorators,
which build them, both import this module and not each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
from attrs import field, frozen

from opskit.names import (
    validate_alias,
    validate_experiment,
    validate_model_name,
    validate_run_name,
    validate_tag_key,
    validate_tag_value,
)
from opskit.records import Schema

__all__ = ["RunOptions", "TrainOptions"]


def _optional(check: Callable[[str], object]) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """An attrs validator applying a name rule to a value that may be None."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            check(value)

    return validate


def _tags(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Tags checked at decoration time (every name rule then, not after training), copied."""
    tags = dict(value or {})
    for key, tag in tags.items():
        validate_tag_key(key)
        validate_tag_value(key, tag)
    return tags


def _checks(value: Any) -> tuple[Any, ...]:
    """``checks=`` as ``opskit.validation.checks.Check`` objects (``ValidationError`` for anything else)."""
    if value is None:
        return ()
    from opskit.validation.checks import as_checks

    return as_checks(value)


def _gates(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    from opskit.validation.gates import as_gates

    return as_gates(value)


def _metrics(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    from opskit.validation.evaluate import as_metrics

    return as_metrics(value)


def _evaluate(value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    from opskit.errors import ValidationError

    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, str) and v.isidentifier() for v in value)
    ):
        raise ValidationError(
            f"evaluate={value!r}: name the two held-out arguments of the function, e.g. evaluate=('X_test', 'y_test')"
        )
    return (value[0], value[1])


def _on_fail(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in ("warn", "raise", "register"):
        from opskit.errors import ValidationError

        raise ValidationError(
            f"on_fail={value!r}: use 'warn' (default: keep the run, register nothing), 'raise', or 'register' "
            "(register as rejected without moving the alias)"
        )


def _seed(value: object) -> int | None:
    """A seed checked at decoration time (``opskit.seeding.check_seed``), or None."""
    from opskit.seeding import check_seed

    return None if value is None else check_seed(value)


def _data_mode(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    from opskit.errors import InvalidValue

    if value not in ("fingerprint", "snapshot", "off"):
        raise InvalidValue(
            f"data={value!r} is not a data mode: use 'fingerprint' (the default: digests only), "
            "'snapshot' (also store each data argument as a dataset version) or 'off' (record nothing)"
        )


def _datasets(value: Mapping[str, str] | None) -> Mapping[str, str]:
    """Dataset names by argument, checked at decoration time."""
    names = dict(value or {})
    for name in names.values():
        validate_model_name(name)
    return names


#: The run tag the model card's intended use and limitations are stored in (JSON: ``{section: text}``).
CARD_TAG = "opskit.card"
#: The most characters the card text may take (it is stored as a run tag; MLflow caps tag values).
CARD_MAX_CHARS = 4000


def _card(value: Mapping[str, Any] | str | None) -> Mapping[str, str] | None:
    """The ``card=`` option checked at decoration time: text, or a dict of section name -> text."""
    import json

    from opskit.errors import InvalidValue

    if value is None:
        return None
    if isinstance(value, str):
        sections = {"intended use": value}
    elif isinstance(value, Mapping):
        sections = dict(value)
    else:
        raise InvalidValue(
            f"card={value!r} is neither text nor a dict: pass the intended use as text, or a dict such as "
            "{'intended use': '...', 'limitations': '...'}"
        )
    for key, text in sections.items():
        if not isinstance(key, str) or not key.strip() or not isinstance(text, str):
            raise InvalidValue(
                f"card= section {key!r}: {text!r} is not text: every section name and body must be a non-empty str"
            )
    size = len(json.dumps(sections))
    if size > CARD_MAX_CHARS:
        raise InvalidValue(
            f"card= is {size} characters as JSON, more than the {CARD_MAX_CHARS} a run tag can hold; "
            "shorten it and link to a longer document"
        )
    return sections


def _pii(value: object) -> tuple[str, ...]:
    """``pii=`` checked at decoration time: column names (one name or a list)."""
    from opskit.pii import check_pii

    if value is None or value == ():  # () is the converted default (attrs.evolve passes it again)
        return ()
    return check_pii(value)[0]


@frozen(kw_only=True)
class RunOptions:
    """The options of ``@opskit.track`` (and the run half of ``@opskit.train``), checked when decorating."""

    #: The run's name (default: the function name).
    name: str | None = field(default=None, validator=_optional(validate_run_name))
    #: The experiment (default: the configured one, else the model or function name).
    experiment: str | None = field(default=None, validator=_optional(validate_experiment))
    #: Tags set on every run.
    tags: Mapping[str, Any] = field(default=None, converter=_tags)
    #: Data checks run on the data arguments before the body (``opskit.checks``).
    checks: tuple[Any, ...] = field(default=None, converter=_checks)
    #: Seed Python, NumPy and PyTorch generators with this before each call (``opskit.seed``).
    seed: int | None = field(default=None, converter=_seed)
    #: What is recorded of the data arguments: "fingerprint" (digest, shape, schema),
    #: "snapshot" (also stored as dataset versions the run links to) or "off" (nothing).
    data: str = field(default="fingerprint", validator=_data_mode)
    #: Dataset names for ``data="snapshot"``, by argument (default ``<model-or-function>.<argument>``).
    datasets: Mapping[str, str] = field(default=None, converter=_datasets)
    #: Columns of the data arguments that are personal data: hashed or dropped in the snapshots.
    pii: tuple[str, ...] = field(default=None, converter=_pii)
    #: ``hash`` (keyed, ``opskit.pii``) or ``drop`` the ``pii`` columns.
    pii_mode: str = field(default="hash")

    def __attrs_post_init__(self) -> None:
        from opskit.errors import InvalidValue
        from opskit.pii import check_pii

        if self.pii:
            check_pii(list(self.pii), self.pii_mode)
            if self.data != "snapshot":
                raise InvalidValue(
                    f"pii={list(self.pii)} applies to stored data: use data='snapshot' with it "
                    f"(data={self.data!r} stores no rows)"
                )


@frozen(kw_only=True)
class TrainOptions(RunOptions):
    """The options of ``@opskit.train``: the run's, plus what to register."""

    #: The registered model's name (default: the function name).
    model: str | None = field(default=None, validator=_optional(validate_model_name))
    #: An alias moved to each new version.
    alias: str | None = field(default=None, validator=_optional(validate_alias))
    #: False: keep the run only, register nothing.
    register: bool = True
    #: The model's input: an ``opskit.Schema`` or data to infer it from.
    signature: Schema | object | None = None
    #: A few input rows to infer the model's input from (instead of ``signature``).
    input_example: object | None = None
    #: The input schema stated by ``signature`` / ``input_example`` (None: inferred at registration).
    schema: Schema | None = field(init=False, default=None)
    #: The held-out (X, y) arguments the returned model is scored on.
    evaluate: tuple[str, str] | None = field(default=None, converter=_evaluate)
    #: Scorer names or name -> scorer (``opskit.validation.evaluate.Metric``).
    metrics: tuple[Any, ...] = field(default=None, converter=_metrics)
    #: Quality gates decided after the body (``opskit.gates``).
    gates: tuple[Any, ...] = field(default=None, converter=_gates)
    #: What a failed gate does: ``warn`` (register nothing), ``raise``, ``register`` (as rejected).
    on_fail: Literal["warn", "raise", "register"] = field(default="warn", validator=_on_fail)
    #: The model card's intended use and limitations: text, or ``{section: text}`` (default: the docstring).
    card: Mapping[str, str] | None = field(default=None, converter=_card)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        from opskit.registry.register import explicit_signature

        object.__setattr__(self, "schema", explicit_signature(self.signature, self.input_example))
        if self.metrics or self.gates:
            from opskit.validation.runner import check_train_options

            check_train_options(self)
