"""Bearer-token authentication of model servers: where the token comes from, what is recorded, how it is checked.

A deployment requires ``Authorization: Bearer <token>`` when it was deployed with
``auth_token=``, ``auth_token_file=`` or with ``$OPSKIT_SERVE_TOKEN`` set. The token
itself is never recorded: the deployment record and the server's ``spec.json``
hold its SHA-256 (``auth_token_sha256``) and, for a file, the file's path. A
literal ``auth_token=`` is written to ``<home>/deployments/<name>/auth_token``
(mode 0600) and recorded as that file, so ``Deployment.predict`` in any later
process sends it without the user's code changing.

The server compares SHA-256 digests with ``hmac.compare_digest``: the time taken
does not depend on how much of the token was right, nor on its length.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opskit.deployments.options import is_valid_token
from opskit.errors import DeploymentError, InvalidOption

__all__ = [
    "LOOPBACK_HOSTS",
    "TOKEN_ENV",
    "bind_refusal",
    "client_token",
    "is_loopback",
    "resolve_auth",
    "token_digest",
    "token_matches",
]

#: The environment variable a token can come from (deploying process, server, client).
TOKEN_ENV = "OPSKIT_SERVE_TOKEN"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str) -> bool:
    """True for 127.0.0.1, localhost, ::1 and any other loopback address."""
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_digest(token: str | bytes) -> str:
    """The hex SHA-256 of *token* (text is UTF-8 encoded)."""
    raw = token.encode() if isinstance(token, str) else token
    return hashlib.sha256(raw).hexdigest()


def token_matches(presented: bytes | None, expected_sha256: str) -> bool:
    """Whether *presented* is the token whose SHA-256 is *expected_sha256*, in constant time."""
    if presented is None:
        return False
    actual = hashlib.sha256(presented).digest()
    try:
        expected = bytes.fromhex(expected_sha256)
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def bind_refusal(host: str, *, has_token: bool, insecure: bool) -> str | None:
    """Why binding *host* is refused (a non-loopback address with no token and no ``insecure``), or None."""
    if has_token or insecure or is_loopback(host):
        return None
    return (
        f"refusing to serve on host {host!r} without an auth token: anyone who can reach it could "
        f"score and read the model; pass auth_token_file=PATH (or auth_token=..., or set ${TOKEN_ENV}), "
        "or insecure=True to serve it unauthenticated anyway"
    )


def _read_token_file(path: str) -> str:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidOption(
            f"option auth_token_file={path!r}: cannot read the token file ({type(exc).__name__}: {exc}); "
            "give a readable file holding the token on one line",
            option="auth_token_file",
            value=path,
            accepted="a readable file holding the token",
        ) from None
    token = text.strip()
    if not is_valid_token(token):
        raise InvalidOption(
            f"option auth_token_file={path!r}: the file does not hold a valid token (16 to 4096 visible "
            "ASCII characters, no spaces; e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            option="auth_token_file",
            value=path,
            accepted="a file holding a token of 16 to 4096 visible ASCII characters",
        )
    return token


def _env_token() -> str | None:
    from opskit.config import env_text

    token = env_text(TOKEN_ENV)
    if token is None or not token.strip():
        return None
    token = token.strip()
    if not is_valid_token(token):
        raise InvalidOption(
            f"${TOKEN_ENV} does not hold a valid token ({len(token)} characters; it takes 16 to 4096 "
            "visible ASCII characters, no spaces)",
            option="auth_token",
            value=f"${TOKEN_ENV}",
            accepted="a token of 16 to 4096 visible ASCII characters",
        )
    return token


def resolve_auth(options: Mapping[str, Any], *, name: str, home: Path) -> dict[str, Any]:
    """*options* (already checked) with the token source replaced by what may be recorded.

    ``auth_token`` is removed; ``auth_token_sha256`` is added, and ``auth_token_file`` names
    where a client reads the token. A non-loopback ``host`` with no token and no
    ``insecure=True`` raises ``InvalidOption``. Nothing is written before every check passed.
    """
    out = dict(options)
    literal = out.pop("auth_token", None)
    path = out.get("auth_token_file")
    if literal is not None and path is not None:
        raise InvalidOption(
            "give auth_token= or auth_token_file=, not both",
            option="auth_token",
            value="<a token>",
            accepted="one token source",
        )
    token: str | None
    if path is not None:
        path = str(Path(path).expanduser().resolve())
        token = _read_token_file(path)
        out["auth_token_file"] = path
    elif literal is not None:
        token = str(literal)
    else:
        token = _env_token()
    host = str(out.get("host", "127.0.0.1"))
    refusal = bind_refusal(host, has_token=token is not None, insecure=bool(out.get("insecure")))
    if refusal is not None:
        raise InvalidOption(
            f"option host={host!r}: {refusal}",
            option="host",
            value=host,
            accepted="127.0.0.1, localhost or ::1 without a token; any address with one",
        )
    if token is None:
        out.pop("auth_token_sha256", None)
        return out
    out["auth_token_sha256"] = token_digest(token)
    if literal is not None:
        out["auth_token_file"] = str(
            _write_token(home / "deployments" / name / "auth_token", token)
        )
    return out


def _write_token(path: Path, token: str) -> Path:
    """Write *token* to *path* readable by its owner only (atomically: never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def client_token(name: str, options: Mapping[str, Any]) -> str | None:
    """The token a client sends to deployment *name*: from its recorded file, else ``$OPSKIT_SERVE_TOKEN``.

    None when the deployment needs none. ``DeploymentError`` when it needs one the client
    cannot find, or finds one that is not the deployment's (its SHA-256 differs).
    """
    expected = options.get("auth_token_sha256")
    if not expected:
        return None
    path = options.get("auth_token_file")
    token: str | None = None
    where = f"${TOKEN_ENV}"
    if path:
        where = str(path)
        try:
            token = Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise DeploymentError(
                f"deployment {name!r} requires a bearer token, read from {path}, which cannot be read "
                f"({type(exc).__name__}); restore the file or redeploy with a new token"
            ) from None
    else:
        from opskit.config import env_text

        token = (env_text(TOKEN_ENV) or "").strip() or None
        if token is None:
            raise DeploymentError(
                f"deployment {name!r} requires a bearer token: set ${TOKEN_ENV} to the token it was "
                "deployed with"
            )
    if not hmac.compare_digest(token_digest(token), str(expected)):
        raise DeploymentError(
            f"the token in {where} is not the one deployment {name!r} was deployed with; "
            "use that token or redeploy"
        )
    return token
