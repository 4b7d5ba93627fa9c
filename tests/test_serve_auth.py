"""Authenticated serving over real HTTP: bearer tokens, open /health, configurable /metrics, refused public binds."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_wine
from sklearn.tree import DecisionTreeClassifier

import opskit
from conftest import run_python
from opskit.cli.main import main as cli
from opskit.deployments.auth import TOKEN_ENV, token_digest, token_matches
from opskit.deployments.client import DeploymentClient

ENV_VARS = (
    "OPSKIT_TRACKER",
    "OPSKIT_STORAGE",
    "OPSKIT_EXPERIMENT",
    "OPSKIT_LOAD_PLUGINS",
    "OPSKIT_DISABLE_PLUGINS",
    TOKEN_ENV,
)
TOKEN = "s3cr3t-Token_for-the-wine-server-0123456789"
FILE_TOKEN = "another-token-read-from-a-file-9876543210"
SCORING = ("/invocations", "/predict")


class Locked:
    """Two token-protected deployments: ``locked`` (literal token, /metrics open) and ``sealed`` (token file, /metrics protected)."""

    def __init__(
        self, home: Path, locked: opskit.Deployment, sealed: opskit.Deployment, X: pd.DataFrame
    ) -> None:
        self.home, self.locked, self.sealed, self.X = home, locked, sealed, X

    def url(self, which: str = "locked") -> str:
        dep = self.locked if which == "locked" else self.sealed
        assert dep.url is not None
        return dep.url

    def body(self, path: str) -> Any:
        rows = self.X.iloc[:2]
        if path == "/invocations":
            return {
                "dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}
            }
        return rows.to_dict(orient="records")


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Locked]:
    """One store with wine:1 deployed twice behind bearer tokens."""
    base = tmp_path_factory.mktemp("auth")
    home = base / ".opskit"
    token_file = base / "serve.token"
    token_file.write_text(FILE_TOKEN + "\n")
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("OPSKIT_HOME", str(home))
        opskit.reset_defaults()
        X, y = load_wine(return_X_y=True, as_frame=True)

        @opskit.train(model="wine", alias="production")
        def fit(X: pd.DataFrame, y: pd.Series) -> DecisionTreeClassifier:
            return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)

        fit(X, y)
        locked = opskit.deploy(
            "wine@production", name="locked", auth_token=TOKEN, workers=1, log_level="debug"
        )
        try:
            sealed = opskit.deploy(
                "wine@production",
                name="sealed",
                auth_token_file=str(token_file),
                metrics_auth="token",
                workers=1,
            )
            try:
                yield Locked(home, locked, sealed, X)
            finally:
                opskit.deployments.stop("sealed")
        finally:
            opskit.deployments.stop("locked")
            opskit.reset_defaults()


@pytest.fixture
def auth(locked: Locked, monkeypatch: pytest.MonkeyPatch) -> Locked:
    """The protected deployments' store, selected for this test."""
    monkeypatch.setenv("OPSKIT_HOME", str(locked.home))
    opskit.reset_defaults()
    return locked


def _is_401(response: httpx.Response, *, presented: bool) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is presented
    body = response.json()
    assert body["error_code"] == "UNAUTHENTICATED" and "token" in body["message"]
    assert response.headers["x-request-id"]  # errors carry a request id too


WRONG = [
    TOKEN[:-1] + ("x" if TOKEN[-1] != "x" else "y"),  # same length, last character differs
    TOKEN[:10],  # a prefix
    TOKEN + "extra",  # longer
    TOKEN.upper(),
]


@pytest.mark.parametrize("path", SCORING)
def test_scoring_needs_the_bearer_token(auth: Locked, path: str) -> None:
    """/invocations and /predict answer 401 with WWW-Authenticate without or with a wrong token, 200 with it."""
    url, body = auth.url() + path, auth.body(path)
    _is_401(httpx.post(url, json=body), presented=False)
    for wrong in WRONG:
        _is_401(
            httpx.post(url, json=body, headers={"Authorization": f"Bearer {wrong}"}),
            presented=True,
        )
    for header in ("Bearer", f"Basic {TOKEN}", TOKEN, f"Bearer {FILE_TOKEN}"):  # "Bearer": empty
        _is_401(httpx.post(url, json=body, headers={"Authorization": header}), presented=True)
    non_ascii = ("Bearer " + TOKEN[:-1] + "é").encode("latin-1")
    _is_401(httpx.post(url, json=body, headers={b"Authorization": non_ascii}), presented=True)
    ok = httpx.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["predictions"]) == 2
    lower = httpx.post(url, json=body, headers={"authorization": f"bearer {TOKEN}"})
    assert lower.status_code == 200  # the scheme is case-insensitive (RFC 7235)


def test_health_is_open_metadata_is_not(auth: Locked) -> None:
    """/health and /ping answer without a token; /metadata needs it."""
    for which in ("locked", "sealed"):
        assert httpx.get(auth.url(which) + "/health").json()["status"] == "ok"
        assert httpx.get(auth.url(which) + "/ping").status_code == 200
    _is_401(httpx.get(auth.url() + "/metadata"), presented=False)
    meta = httpx.get(auth.url() + "/metadata", headers={"Authorization": f"Bearer {TOKEN}"})
    assert meta.json()["version"] == "wine:1"


def test_metrics_open_by_default_protected_on_request(auth: Locked) -> None:
    """/metrics is open by default (and counts the refused requests); metrics_auth="token" protects it."""
    httpx.post(auth.url() + "/predict", json=auth.body("/predict"))
    text = httpx.get(auth.url() + "/metrics").text
    assert 'opskit_request_errors_total{endpoint="predict",reason="unauthorized"}' in text
    _is_401(httpx.get(auth.url("sealed") + "/metrics"), presented=False)
    _is_401(
        httpx.get(auth.url("sealed") + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}),
        presented=True,
    )
    ok = httpx.get(
        auth.url("sealed") + "/metrics", headers={"Authorization": f"Bearer {FILE_TOKEN}"}
    )
    assert ok.status_code == 200 and "opskit_request" in ok.text


def test_client_sends_the_token_it_was_deployed_with(auth: Locked) -> None:
    """Deployment.predict works unchanged on protected deployments, in this process and in another one."""
    expected = auth.locked.predict(auth.X.iloc[:3])
    assert len(expected) == 3
    assert opskit.deployments.get("sealed").predict(auth.X.iloc[:3]) == expected
    out = run_python(
        "import opskit, json\nfrom sklearn.datasets import load_wine\n"
        "X, _ = load_wine(return_X_y=True, as_frame=True)\n"
        "print(json.dumps([opskit.deployments.get(n).predict(X.iloc[:3]) for n in ('locked', 'sealed')]))",
        env={"OPSKIT_HOME": str(auth.home)},
    )
    assert json.loads(out.stdout) == [expected, expected]


def test_a_wrong_client_token_is_reported_before_sending(
    auth: Locked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token file that changed since deploying gives a DeploymentError naming the file, not a bare 401."""
    record = opskit.deployments.get("sealed").record
    changed = tmp_path / "changed.token"
    changed.write_text("x" * 32)
    options = {**record.options, "auth_token_file": str(changed)}
    moved = DeploymentClient.of(opskit.Deployment(**{**_fields(record), "options": options}))
    with pytest.raises(opskit.DeploymentError, match="changed.token"):
        moved.predict(auth.X.iloc[:1])


def _fields(record: opskit.Deployment) -> dict[str, Any]:
    import attrs

    return {f.name: getattr(record, f.name) for f in attrs.fields(type(record))}


def test_the_token_is_never_recorded_or_logged(
    auth: Locked, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token is absent from the records, the tracker database, spec.json, the server log and CLI output."""
    for name in ("locked", "sealed"):
        httpx.post(auth.url(name) + "/predict", json=auth.body("/predict"))
        assert cli(["deployments", "show", name, "--json"]) == 0
        assert cli(["deployments", "logs", name]) == 0
    assert cli(["deployments", "list", "--json"]) == 0
    assert cli(["deployments", "list"]) == 0
    printed = capsys.readouterr()
    texts = [printed.out, printed.err, opskit.deployments.logs("locked")]
    for folder in ("locked", "sealed"):
        texts.append((auth.home / "deployments" / folder / "spec.json").read_text())
    texts += [json.dumps(d.options) for d in opskit.deployments.list()]
    database = b"".join(p.read_bytes() for p in auth.home.rglob("*.db*"))
    for secret in (TOKEN, FILE_TOKEN):
        assert all(secret not in text for text in texts)
        assert secret.encode() not in database
    locked = opskit.deployments.get("locked")
    assert locked.options["auth_token_sha256"] == token_digest(TOKEN)
    token_file = Path(locked.options["auth_token_file"])
    assert token_file.read_text().strip() == TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert "auth_token" not in locked.options


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    token=st.text(
        alphabet=st.characters(
            min_codepoint=0x21, max_codepoint=0xFF, blacklist_categories=("Cc", "Zs")
        ),
        min_size=1,
        max_size=80,
    )
)
@example(token=TOKEN)
@example(token=TOKEN[:-1])
def test_any_other_token_is_refused_over_http(auth: Locked, token: str) -> None:
    """Any presented token other than the deployment's gets 401; the real one 200."""
    raw = ("Bearer " + token).encode("latin-1")
    response = httpx.post(
        auth.url() + "/predict", json=auth.body("/predict"), headers={b"Authorization": raw}
    )
    assert response.status_code == (200 if token == TOKEN else 401)


@given(expected=st.binary(max_size=64), presented=st.one_of(st.none(), st.binary(max_size=64)))
def test_token_comparison_is_exact(expected: bytes, presented: bytes | None) -> None:
    """token_matches is true exactly when the presented bytes equal the token."""
    assert token_matches(presented, token_digest(expected)) is (presented == expected)


def _wine_model() -> None:
    X, y = load_wine(return_X_y=True, as_frame=True)

    @opskit.train(model="wine", alias="production")
    def fit(X: pd.DataFrame, y: pd.Series) -> DecisionTreeClassifier:
        return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)

    fit(X, y)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.org"])
def test_public_bind_without_token_is_refused(store: Path, host: str) -> None:
    """deploy(host=<non-loopback>) without a token raises InvalidOption naming the host; nothing starts."""
    _wine_model()
    with pytest.raises(opskit.InvalidOption, match="insecure=True") as info:
        opskit.deploy("wine@production", host=host)
    assert info.value.option == "host" and repr(host) in str(info.value)
    assert not (store / "deployments").exists()
    assert opskit.deployments.list() == []
    assert cli(["deploy", "wine@production", "--host", host]) == 2


@pytest.mark.parametrize(
    "options",
    [
        {"auth_token": "short"},
        {"auth_token": ""},
        {"auth_token": "has a space in the middle of it"},
        {"auth_token": "é" * 20},
        {"auth_token": TOKEN, "auth_token_file": "serve.token"},
        {"auth_token_file": "missing.token"},
    ],
)
def test_bad_token_options_are_refused_without_echoing_them(
    store: Path, tmp_path: Path, options: dict[str, Any]
) -> None:
    """A bad token or token source raises InvalidOption that never shows the token; nothing starts."""
    _wine_model()
    (tmp_path / "serve.token").write_text(TOKEN)
    with pytest.raises(opskit.InvalidOption) as info:
        opskit.deploy("wine@production", **options)
    token = options.get("auth_token")
    if token:
        assert token not in str(info.value)
    assert not (store / "deployments").exists()
    assert opskit.deployments.list() == []


def test_token_from_the_environment(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With $OPSKIT_SERVE_TOKEN set, the deployment requires it, the client sends it, the record holds only its hash."""
    _wine_model()
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    dep = opskit.deploy("wine@production", name="env", workers=1)
    try:
        assert dep.url is not None
        _is_401(httpx.post(dep.url + "/predict", json=[{"alcohol": 1.0}]), presented=False)
        X, _ = load_wine(return_X_y=True, as_frame=True)
        assert len(dep.predict(X.iloc[:2])) == 2
        assert dep.options == {"auth_token_sha256": token_digest(TOKEN), "workers": 1}
        monkeypatch.setenv(TOKEN_ENV, FILE_TOKEN)
        with pytest.raises(opskit.DeploymentError, match=TOKEN_ENV):
            dep.predict(X.iloc[:2])
        monkeypatch.delenv(TOKEN_ENV)
        with pytest.raises(opskit.DeploymentError, match="requires a bearer token"):
            dep.predict(X.iloc[:2])
    finally:
        opskit.deployments.stop("env")


@pytest.mark.parametrize("insecure", [False, True])
def test_server_refuses_a_public_bind_without_token(tmp_path: Path, insecure: bool) -> None:
    """`python -m opskit.serve` with OPSKIT_BIND=0.0.0.0 and no token exits 2 naming the host (not when insecure)."""
    spec = tmp_path / "spec.json"
    # An invalid worker count after the host check keeps the insecure case from binding anything.
    spec.write_text(
        json.dumps(
            {"name": "x", "port": 8080, "variants": [], "insecure": insecure, "max_batch": 1}
        )
    )
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    env["OPSKIT_BIND"] = "0.0.0.0"
    if insecure:
        env["OPSKIT_SERVE_TOKEN"] = "bad token"  # invalid: the server must stop before binding
    done = subprocess.run(
        [sys.executable, "-m", "opskit.serve", str(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    if insecure:
        assert TOKEN_ENV in done.stderr and "bad token" not in done.stderr
    else:
        assert "'0.0.0.0'" in done.stderr and "insecure" in done.stderr


def test_docker_context_requires_its_token(tmp_path: Path) -> None:
    """A docker context deployed with a token serves only with it; its files hold the hash, and a public bind without any token is refused."""
    from opskit.deployments.local import free_port
    from test_deploy_docker import image_command, start_like_the_image, stop

    _wine_model()
    context = tmp_path / "ctx"
    opskit.deploy("wine@production", target="docker", path=str(context), auth_token=TOKEN)
    for path in context.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".txt", ""}:
            assert TOKEN.encode() not in path.read_bytes(), path
    spec = json.loads((context / "spec.json").read_text())
    assert spec["auth_token_sha256"] == token_digest(TOKEN)
    requirements = (context / "requirements.txt").read_text().split()
    assert any(line.startswith("pyarrow==") for line in requirements)  # the Parquet prediction log
    port = free_port()
    server = start_like_the_image(context, port)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        X, _ = load_wine(return_X_y=True, as_frame=True)
        body = X.iloc[:2].to_dict(orient="records")
        _is_401(httpx.post(url + "/predict", json=body), presented=False)
        ok = httpx.post(url + "/predict", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
    finally:
        stop(server)
    bare = tmp_path / "bare"
    opskit.deploy("wine@production", target="docker", path=str(bare))
    command, image_env = image_command(bare)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSKIT_", "PROMETHEUS_"))}
    env.update(image_env)  # OPSKIT_BIND=0.0.0.0, as in the container
    done = subprocess.run(
        [sys.executable, *command[1:]],
        cwd=bare,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "'0.0.0.0'" in done.stderr and TOKEN_ENV in done.stderr
