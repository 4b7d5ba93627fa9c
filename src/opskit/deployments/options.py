"""Every option a built-in deployment target accepts, checked in one place before anything starts.

``opskit.deploy(..., **options)`` checks its options against the chosen
target's ``options`` table (when the target has one) before it resolves a
model, writes a file or starts a process; a bad name or value raises
``InvalidOption`` naming the option, the value given and what it accepts.
The model server checks the same table again when it reads its spec, so a
hand-edited ``spec.json`` fails at once instead of crash-looping its workers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, Literal

from attrs import frozen

from opskit.errors import InvalidOption

__all__ = [
    "AUTH_OPTIONS",
    "DOCKER_OPTIONS",
    "INTERNAL_OPTIONS",
    "LOCAL_OPTIONS",
    "SERVER_OPTIONS",
    "Option",
    "check_options",
    "check_port",
    "check_target_options",
    "is_valid_token",
]

Kind = Literal["int", "float", "choice", "path", "bool", "text", "secret", "columns", "period"]


@frozen
class Option:
    """One option: its kind, bounds or choices, and an example used in messages."""

    name: str
    kind: Kind
    example: str
    minimum: float | None = None
    maximum: float | None = None
    #: ``minimum`` itself is allowed (``>=``) or not (``>``).
    inclusive: bool = True
    choices: tuple[str, ...] = ()
    help: str = ""

    def accepted(self) -> str:
        """What the option takes, in words: ``an integer >= 1``."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "path":
            return "a folder path" if self.name == "path" else "a file path"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "text":
            return "a non-empty text without spaces"
        if self.kind == "secret":
            return "a token of 16 to 4096 visible ASCII characters (no spaces)"
        if self.kind == "columns":
            return "a list of column names (or one comma-separated text)"
        if self.kind == "period":
            return "a period such as 30d, 12h or 2w"
        what = "an integer" if self.kind == "int" else "a number"
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>=' if self.inclusive else '>'} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        return f"{what} {' and '.join(bounds)}".rstrip()

    def _refuse(self, target: str, value: object) -> InvalidOption:
        accepted = self.accepted()
        if self.kind == "secret":  # never echo a secret: say what is wrong with it instead
            value = _describe_secret(value)
        return InvalidOption(
            f"option {self.name}={value!r} is not valid for {_where(target)}: {self.name} takes {accepted} "
            f"(e.g. {self.name}={self.example})",
            option=self.name,
            value=value,
            accepted=accepted,
        )

    def check(self, value: object, target: str) -> Any:
        """The value in its canonical type, or ``InvalidOption``."""
        if self.kind == "path":
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if not isinstance(value, str) or not value.strip():
                raise self._refuse(target, value)
            return value
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _BOOL_TEXT:
                return _BOOL_TEXT[value.strip().lower()]
            raise self._refuse(target, value)
        if self.kind == "text":
            if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
                raise self._refuse(target, value)
            return value
        if self.kind == "secret":
            if not is_valid_token(value):
                raise self._refuse(target, value)
            return value
        if self.kind == "columns":
            names = value.split(",") if isinstance(value, str) else value
            if not isinstance(names, list | tuple) or not names:
                raise self._refuse(target, value)
            if not all(isinstance(n, str) and n.strip() for n in names):
                raise self._refuse(target, value)
            return [n.strip() for n in names]
        if self.kind == "period":
            from opskit.errors import InvalidValue
            from opskit.periods import parse_period

            try:
                parse_period(value, name=self.name)  # type: ignore[arg-type]
            except InvalidValue:
                raise self._refuse(target, value) from None
            return value
        if self.kind == "choice":
            if not isinstance(value, str) or value.strip().lower() not in self.choices:
                raise self._refuse(target, value)
            return value.strip().lower()
        number = self._number(value)
        if number is None:
            raise self._refuse(target, value)
        if isinstance(number, float) and (
            not math.isfinite(number) or (self.kind == "int" and not number.is_integer())
        ):
            raise self._refuse(target, value)
        if self.kind == "int":
            number = int(number)
        else:
            try:
                number = float(number)
            except OverflowError:
                raise self._refuse(target, value) from None
        low_ok = self.minimum is None or (
            number >= self.minimum if self.inclusive else number > self.minimum
        )
        high_ok = self.maximum is None or number <= self.maximum
        if not (low_ok and high_ok):
            raise self._refuse(target, value)
        return number

    @staticmethod
    def _number(value: object) -> float | int | None:
        if isinstance(value, bool):  # True is an int to Python, not a batch size to anyone
            return None
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text)
            except ValueError:
                pass
            try:
                return float(text)
            except ValueError:
                return None
        return None


_BOOL_TEXT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def is_valid_token(value: object) -> bool:
    """A bearer token opskit accepts: 16 to 4096 visible ASCII characters (``secrets.token_urlsafe(32)`` is one)."""
    return (
        isinstance(value, str) and 16 <= len(value) <= 4096 and all("!" <= c <= "~" for c in value)
    )


def _describe_secret(value: object) -> str:
    """What is wrong with a rejected token, without its text."""
    if not isinstance(value, str):
        return f"<a {type(value).__name__}, not a text>"
    if not value:
        return "<an empty token>"
    if len(value) < 16:
        return f"<a token of {len(value)} characters>"
    if len(value) > 4096:
        return f"<a token of {len(value)} characters>"
    return "<a token with spaces or non-ASCII characters>"


def _where(target: str) -> str:
    return target if " " in target else f"the {target} target"


def _table(*options: Option) -> dict[str, Option]:
    return {o.name: o for o in options}


#: Options of the model server itself (``python -m opskit.serve`` reads them from its spec).
SERVER_OPTIONS = _table(
    Option("workers", "int", "2", minimum=1, help="server worker processes (default 2)"),
    Option(
        "max_batch",
        "int",
        "32",
        minimum=1,
        help="most requests scored in one model call (default 64)",
    ),
    Option(
        "max_wait_ms",
        "float",
        "2",
        minimum=0,
        help="how long a batch waits for more requests (default 2)",
    ),
    Option(
        "log_sample",
        "float",
        "0.1",
        minimum=0,
        maximum=1,
        help="share of requests written to the prediction log (default 1)",
    ),
    Option(
        "log_buffer",
        "int",
        "100000",
        minimum=1,
        help="rows the prediction log buffers per worker; beyond, rows are counted as dropped (default 100000)",
    ),
    Option(
        "max_body_bytes",
        "int",
        "8388608",
        minimum=1,
        help="largest request body accepted (default 8 MiB)",
    ),
    Option(
        "poll_interval",
        "float",
        "1.0",
        minimum=0,
        inclusive=False,
        help="seconds between alias checks (default 1)",
    ),
    Option(
        "log_level",
        "choice",
        "info",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
        help="server log level (default warning)",
    ),
    Option(
        "host",
        "text",
        "127.0.0.1",
        help="address the server binds (default 127.0.0.1; any other needs a token or insecure=true)",
    ),
    Option(
        "insecure",
        "bool",
        "true",
        help="allow binding a non-loopback host without an auth token (default false)",
    ),
    Option(
        "metrics_auth",
        "choice",
        "token",
        choices=("open", "token"),
        help="whether /metrics needs the auth token too (default open)",
    ),
    Option(
        "pii",
        "columns",
        "email,ssn",
        help="input columns that are personal data: hashed (keyed) or dropped before the prediction log is written",
    ),
    Option(
        "pii_mode",
        "choice",
        "drop",
        choices=("hash", "drop"),
        help="what happens to the pii columns: hash (HMAC-SHA256 with the store's key, the default) or drop",
    ),
    Option(
        "retention",
        "period",
        "30d",
        help="keep the prediction log this long; older days are removed at server start and by "
        "`opskit data forget --expired` (default: forever)",
    ),
    Option(
        "auth_token_sha256",
        "text",
        "<set by opskit.deploy>",
        help="SHA-256 of the bearer token (written by opskit.deploy; never the token itself)",
    ),
)
#: Server options only ``opskit.deploy`` writes (a user giving one gets "unknown option").
INTERNAL_OPTIONS = frozenset({"auth_token_sha256"})
#: Where a deployment's bearer token comes from (``opskit.deploy`` resolves them; see opskit.deployments.auth).
AUTH_OPTIONS = _table(
    Option(
        "auth_token",
        "secret",
        "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')",
        help="require `Authorization: Bearer <token>` (kept in a 0600 file, never in the record)",
    ),
    Option(
        "auth_token_file",
        "path",
        "./serve.token",
        help="file holding the bearer token (its path is recorded, not its text)",
    ),
)
#: The ``local`` target: the server options, plus how long to wait for it to become healthy.
LOCAL_OPTIONS = {
    **{k: v for k, v in SERVER_OPTIONS.items() if k not in INTERNAL_OPTIONS},
    **AUTH_OPTIONS,
    **_table(
        Option(
            "timeout",
            "float",
            "120",
            minimum=0,
            inclusive=False,
            help="seconds to wait for /health (default 120)",
        )
    ),
}
#: The ``docker`` target: the server options, plus the folder for the build context.
DOCKER_OPTIONS = {
    **{k: v for k, v in SERVER_OPTIONS.items() if k not in INTERNAL_OPTIONS},
    **AUTH_OPTIONS,
    **_table(
        Option(
            "path",
            "path",
            "./wine-image",
            help="folder for the build context (new or empty; required)",
        )
    ),
}


def check_target_options(
    target: str, accepted: Mapping[str, Option], options: Mapping[str, Any]
) -> dict[str, Any]:
    """``check_options`` for a target's ``deploy``: the internal server options ``opskit.deploy`` added are checked with the server table."""
    internal = {k: v for k, v in options.items() if k in INTERNAL_OPTIONS}
    rest = {k: v for k, v in options.items() if k not in INTERNAL_OPTIONS}
    return {
        **check_options(target, accepted, rest),
        **check_options(target, SERVER_OPTIONS, internal),
    }


def check_options(
    target: str, accepted: Mapping[str, Option], options: Mapping[str, Any]
) -> dict[str, Any]:
    """*options* with every value in its canonical type; ``InvalidOption`` for an unknown name or bad value."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        known = ", ".join(sorted(accepted))
        raise InvalidOption(
            f"unknown option {unknown[0]!r} for {_where(target)} (given {unknown[0]}={options[unknown[0]]!r}); "
            f"it accepts: {known}",
            option=unknown[0],
            value=options[unknown[0]],
            accepted=known,
        )
    return {name: accepted[name].check(value, target) for name, value in options.items()}


def check_port(port: object, target: str) -> int | None:
    """``None`` (pick a free one) or a TCP port number 1..65535."""
    if port is None:
        return None
    return int(Option("port", "int", "8080", minimum=1, maximum=65535).check(port, target))
