"""Sensitive columns: dropped, or replaced by a keyed hash, before anything is written.

The hash is HMAC-SHA256 under the store's PII key, written ``hmac-sha256:<hex>``. A keyed hash
(not a plain SHA-256) because the values that identify people are few and guessable (e-mail
addresses, phone or social-security numbers): without the key nobody can hash every candidate
and match. With the key the same value hashes to the same text everywhere in the store, so
rows of one subject can still be joined and found (``opskit data forget`` hashes the value it
is given). The key comes from ``$OPSKIT_PII_KEY`` when set (use it when several machines or a
server image write to one store), else from ``<home>/pii.key``, created (mode 0600) on first use.
Losing the key makes the hashes unlinkable to new data; it never exposes the values.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from opskit.errors import InvalidValue

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["KEY_ENV", "PREFIX", "PiiMode", "check_pii", "hash_value", "pii_key", "protect_table"]

KEY_ENV = "OPSKIT_PII_KEY"
PREFIX = "hmac-sha256:"
PiiMode = Literal["hash", "drop"]


def check_pii(columns: object, mode: object = "hash") -> tuple[tuple[str, ...], PiiMode]:
    """``pii=`` / ``pii_mode=`` checked: a list of column names (or one name), ``hash`` or ``drop``."""
    names = [columns] if isinstance(columns, str) else columns
    if (
        not isinstance(names, list | tuple)
        or not names
        or not all(isinstance(n, str) and n.strip() for n in names)
    ):
        raise InvalidValue(
            f"pii={columns!r} is not a list of column names: pass e.g. pii=['email', 'ssn']"
        )
    if mode not in ("hash", "drop"):
        raise InvalidValue(f"pii_mode={mode!r}: use 'hash' (a keyed hash, the default) or 'drop'")
    return tuple(n.strip() for n in names), mode


def pii_key(home: Path | None = None) -> bytes:
    """The store's PII key: ``$OPSKIT_PII_KEY``, else ``<home>/pii.key`` (made on first use, mode 0600)."""
    from opskit.config import env_text

    env = (env_text(KEY_ENV) or "").strip()
    if env:
        return env.encode()
    if home is None:
        from opskit.runtime import get_config

        home = get_config().home
    path = Path(home) / "pii.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise InvalidValue(
            f"the PII key file {str(path)!r} is empty; restore it, or set ${KEY_ENV}"
        )
    return key.encode()


def hash_value(value: object, key: bytes) -> str | None:
    """``hmac-sha256:<hex>`` of the value's text (None stays None; an int and its text hash alike)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return PREFIX + hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()


def protect_table(
    table: pa.Table, columns: Sequence[str], mode: PiiMode, key: bytes | None = None
) -> pa.Table:
    """*table* with the *columns* (or their ``input.<name>`` form) dropped or hashed."""
    import pyarrow as pa

    for name in list(table.column_names):
        base = name[len("input.") :] if name.startswith("input.") else name
        if base not in columns:
            continue
        index = table.column_names.index(name)
        if mode == "drop":
            table = table.remove_column(index)
        else:
            secret = pii_key() if key is None else key
            hashed = [hash_value(v, secret) for v in table.column(name).to_pylist()]
            table = table.set_column(index, name, pa.array(hashed, pa.string()))
    return table


def protect_frame(
    frame: Any, columns: Sequence[str], mode: PiiMode, key: bytes | None = None
) -> Any:
    """A copy of the pandas *frame* with the *columns* dropped or hashed (the caller's frame is not changed)."""
    present = [c for c in frame.columns if c in columns]
    if mode == "drop":
        return frame.drop(columns=present)
    out = frame.copy()
    secret = pii_key() if key is None else key
    for c in present:
        out[c] = [hash_value(None if v != v else v, secret) for v in out[c].tolist()]  # NaN -> None
    return out
