"""The model server: a Starlette app, one per uvicorn worker, built from a deployment spec.

Endpoints: ``POST /invocations`` (MLflow payloads and response shape),
``POST /predict`` (records in, predictions out), ``GET /health``,
``GET /metadata``, ``GET /metrics`` (Prometheus text).

With a token (``auth_token_sha256`` in the spec, or ``$OPSKIT_SERVE_TOKEN``) every
route but ``/health`` and ``/ping`` requires ``Authorization: Bearer <token>``
(``/metrics`` only with ``metrics_auth="token"``); anything else is answered 401
with ``WWW-Authenticate: Bearer`` and a JSON error body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opskit.coerce import Cast, merge_casts
from opskit.deployments.auth import TOKEN_ENV, token_digest, token_matches
from opskit.errors import InvalidPayload, UnsupportedMediaType
from opskit.serve.batching import MicroBatcher
from opskit.serve.metrics import CONTENT_TYPE_LATEST, Metrics
from opskit.serve.payloads import Table, parse_body, parse_invocations, parse_records
from opskit.serve.predlog import PredictionLog
from opskit.serve.routing import Router
from opskit.serve.validation import check
from opskit.serve.variants import ServedModel, Variant, source_from_spec

__all__ = ["SPEC_ENV", "RequestIds", "ServerState", "build_app", "create_app", "request_id"]

#: Environment variable holding the path of the deployment spec (JSON) for ``create_app``.
#: The variable naming the spec file, declared in ``opskit.config.ENVIRONMENT``.
SPEC_ENV = "OPSKIT_SERVE_SPEC"
ROUTING_HEADER = "x-routing-key"
REQUEST_ID_SCOPE = "opskit.request_id"
MAX_REQUEST_ID = 128
REQUEST_ID_CHARS = re.compile(r"[A-Za-z0-9._:\-]+")


class BodyTooLarge(Exception):
    pass


class VariantFailed(Exception):
    """The model of *variant* raised on a request (answered 500, counted for that variant)."""

    def __init__(self, variant: Variant, version: str, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.variant, self.version, self.error = variant, version, error


class ServerState:
    """Everything one worker serves: variants, batchers, router, metrics, prediction log."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.max_body = int(spec.get("max_body_bytes", 8 * 1024 * 1024))
        self.poll_interval = float(spec.get("poll_interval", 1.0))
        weights = [float(v.get("weight", 1.0)) for v in spec["variants"]]
        main = weights.index(max(weights)) if weights else 0
        # The heaviest variant is the primary; the others of a split are canaries.
        self.variants = [
            Variant(source_from_spec(v), weight=w, role="primary" if i == main else "canary")
            for i, (v, w) in enumerate(zip(spec["variants"], weights, strict=True))
        ]
        shadow = spec.get("shadow")
        self.shadow = (
            Variant(source_from_spec(shadow), weight=0.0, role="shadow") if shadow else None
        )
        self.router = Router([v.weight for v in self.variants])
        batch, wait = int(spec.get("max_batch", 64)), float(spec.get("max_wait_ms", 2.0)) / 1000
        self.metrics = Metrics()
        self.batchers = {
            id(v): MicroBatcher(
                self._measured(v), max_batch=batch, max_wait=wait, merge=merge_casts
            )
            for v in self.all_variants
        }
        self.predlog = PredictionLog(
            self.name,
            sample=float(spec.get("log_sample", 1.0)),
            max_records=int(spec.get("log_buffer", 100_000)),
            on_written=self.metrics.log_rows.inc,
            on_dropped=lambda rows, reason: self.metrics.log_dropped.labels(reason).inc(rows),
            pii=list(spec.get("pii") or ()),
            pii_mode=str(spec.get("pii_mode", "hash")),
        )
        self.retention: str | None = spec.get("retention")
        self.io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opskit-store")
        self.background: set[asyncio.Task[Any]] = set()
        self.ready = False
        self.token_sha256: str | None = _expected_token(spec)
        self.metrics_open = spec.get("metrics_auth", "open") != "token"
        self._monitor: dict[str, Any] | None = None

    def authorized(self, request: Request) -> bool:
        """Whether *request* carries the bearer token (always, when the server has none)."""
        if self.token_sha256 is None:
            return True
        header = request.headers.get("authorization")
        if header is None:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        # Starlette decodes header bytes as latin-1: encoding back gives the bytes sent.
        return token_matches(credentials.strip().encode("latin-1"), self.token_sha256)

    def monitor_document(self) -> dict[str, Any] | None:
        """The deployment's latest monitoring values (drift, metrics), read from the tracker on each scrape.

        A store that cannot be read keeps the last document read (the error is printed once per failure).
        """
        from opskit.monitor.alerts import latest

        try:
            self._monitor = latest(self.name)
        except Exception as exc:  # serving and the other metrics go on
            print(
                f"opskit: cannot read the latest monitoring values: {type(exc).__name__}: {exc}",
                flush=True,
            )
        return self._monitor

    def _measured(
        self, variant: Variant
    ) -> Callable[[tuple[str, ...] | None, Any], list[tuple[str, Any]]]:
        batch_rows = self.metrics.batch_rows.labels(variant.source.ref)

        def predict(columns: tuple[str, ...] | None, data: Any) -> list[tuple[str, Any]]:
            batch_rows.observe(len(data))
            return variant.predict(data)

        return predict

    @property
    def all_variants(self) -> list[Variant]:
        return [*self.variants, *([self.shadow] if self.shadow else [])]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for variant in self.all_variants:
            await loop.run_in_executor(self.io, variant.load_now)
        if self.retention:  # expired days of this deployment's log go before it serves (audited)
            from opskit.monitor.retention import forget_expired

            await loop.run_in_executor(
                self.io, lambda: forget_expired(str(self.retention), deployment=self.name)
            )
        self.predlog.start()
        if any(v.source.follows for v in self.all_variants):
            self._spawn(self._follow_aliases())
        self.ready = True

    async def stop(self) -> None:
        for task in list(self.background):
            task.cancel()
        for batcher in self.batchers.values():
            await batcher.close()
        await asyncio.get_running_loop().run_in_executor(None, self.predlog.close)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _follow_aliases(self) -> None:
        """Poll the store; load a moved alias's new version off the request path, then swap."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_interval)
            for variant in self.all_variants:
                current = variant.current
                if not variant.source.follows or current is None:
                    continue
                try:
                    version = await loop.run_in_executor(self.io, variant.source.resolve)
                    if (version.version, version.digest) == (
                        current.version.version,
                        current.version.digest,
                    ):
                        continue
                    model = await loop.run_in_executor(self.io, variant.source.load, version)
                except Exception as exc:  # keep serving the old version
                    print(
                        f"opskit: cannot refresh {variant.source.ref}: {type(exc).__name__}: {exc}",
                        flush=True,
                    )
                    continue
                variant.current = ServedModel(version, model)
                self.metrics.model_switches.labels(variant.source.ref).inc()
                print(f"opskit: {variant.source.ref} now serves {version.ref}", flush=True)

    async def score(
        self, table: Table, key: str | None, request_id: str = ""
    ) -> tuple[Variant, str, list[Any]]:
        variant = self.variants[self.router.choose(key)]
        served = variant.current
        assert served is not None
        checked = check(table, served.version.signature)
        try:
            labelled = await self.batchers[id(variant)].submit(checked.columns, checked)
        except Exception as exc:
            self.metrics.variant_requests.labels(variant.source.ref, "primary", "error").inc()
            raise VariantFailed(variant, served.version.ref, exc) from exc
        version = labelled[0][0]
        predictions = [p for _, p in labelled]
        self.metrics.variant_requests.labels(variant.source.ref, "primary", "ok").inc()
        self.metrics.variant_rows.labels(variant.source.ref, "primary").inc(len(predictions))
        self.predlog.record(
            request_id,
            variant.source.ref,
            variant.role,
            version,
            checked.columns,
            checked.rows,
            predictions,
            model_input=checked,
        )
        if self.shadow is not None:
            self._spawn(self._score_shadow(table, request_id))
        return variant, version, predictions

    async def _score_shadow(self, table: Table, request_id: str) -> None:
        shadow = self.shadow
        assert shadow is not None and shadow.current is not None
        ref = shadow.source.ref
        try:
            checked: Cast = check(table, shadow.current.version.signature)
            labelled = await self.batchers[id(shadow)].submit(checked.columns, checked)
        except Exception:
            self.metrics.variant_requests.labels(ref, "shadow", "error").inc()
            return
        self.metrics.variant_requests.labels(ref, "shadow", "ok").inc()
        self.metrics.variant_rows.labels(ref, "shadow").inc(len(labelled))
        self.predlog.record(
            request_id,
            ref,
            "shadow",
            labelled[0][0],
            checked.columns,
            checked.rows,
            [p for _, p in labelled],
            model_input=checked,
        )


def new_request_id() -> str:
    """A fresh request id: 32 hex digits (a uuid4)."""
    return uuid.uuid4().hex


def check_request_id(value: str) -> str | None:
    """Why *value* is not an acceptable ``X-Request-Id`` (1-128 of A-Z a-z 0-9 . _ : -), or None."""
    if not value:
        return "it is empty"
    if len(value) > MAX_REQUEST_ID:
        return f"it has {len(value)} characters (at most {MAX_REQUEST_ID})"
    if not REQUEST_ID_CHARS.fullmatch(value):
        return "it may hold only letters, digits and . _ : -"
    return None


def request_id(request: Request) -> str:
    """The id of *request* (set by ``RequestIds``)."""
    return str(request.scope.get(REQUEST_ID_SCOPE, ""))


class RequestIds:
    """ASGI middleware: every HTTP request gets an id, returned in ``X-Request-Id`` on every response.

    The client's ``X-Request-Id`` is used when it is valid; an invalid one is answered
    400 naming it (and the response carries a fresh id). Without one, a uuid4 hex is made.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent: bytes | None = None
        for name, value in scope.get("headers", ()):
            if name.lower() == b"x-request-id":
                sent = value
                break
        problem = None
        rid = new_request_id()
        if sent is not None:
            text = sent.decode("latin-1")
            problem = check_request_id(text)
            if problem is None:
                rid = text
        scope[REQUEST_ID_SCOPE] = rid
        header = (b"x-request-id", rid.encode("ascii"))

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        if problem is not None:
            assert sent is not None
            response = _error(
                400,
                "BAD_REQUEST",
                f"invalid X-Request-Id header {sent.decode('latin-1')[:200]!r}: {problem}; "
                "send 1 to 128 letters, digits, '.', '_', ':' or '-', or no X-Request-Id "
                "(the server then makes one)",
                "X-Request-Id",
            )
            await response(scope, receive, send_with_id)
            return
        await self.app(scope, receive, send_with_id)


def _expected_token(spec: dict[str, Any]) -> str | None:
    """The SHA-256 of the token this server requires (spec first, then ``$OPSKIT_SERVE_TOKEN``), or None."""
    recorded = spec.get("auth_token_sha256")
    if recorded:
        return str(recorded)
    from opskit.config import env_text

    token = (env_text(TOKEN_ENV) or "").strip()
    return token_digest(token) if token else None


def _unauthorized(request: Request) -> JSONResponse:
    presented = "authorization" in request.headers
    challenge = 'Bearer realm="opskit"' + (', error="invalid_token"' if presented else "")
    message = (
        "the bearer token is not valid for this deployment"
        if presented
        else "this deployment requires a bearer token: send `Authorization: Bearer <token>`"
    )
    return _error(401, "UNAUTHENTICATED", message, headers={"WWW-Authenticate": challenge})


def _guarded(
    state: ServerState, endpoint: str, handler: Callable[[Request], Any], *, always: bool = True
) -> Callable[[Request], Any]:
    """*handler* behind the bearer-token check (``always=False``: only when ``metrics_auth="token"``)."""

    async def guarded(request: Request) -> Response:
        if (always or not state.metrics_open) and not state.authorized(request):
            state.metrics.errors.labels(endpoint, "unauthorized").inc()
            return _unauthorized(request)
        response: Response = await handler(request)
        return response

    return guarded


def _error(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error_code": code, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidPayload(f"invalid Content-Length header {declared!r}")
        if int(declared) > limit:
            raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _scoring(
    state: ServerState, endpoint: str, parse: Callable[[Any], Table]
) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        started = time.perf_counter()
        metrics = state.metrics
        response: Response
        try:
            body = await _read_body(request, state.max_body)
            table = parse_body(body, request.headers.get("content-type"), parse)
            variant, version, predictions = await state.score(
                table, request.headers.get(ROUTING_HEADER), request_id(request)
            )
        except UnsupportedMediaType as exc:
            metrics.errors.labels(endpoint, "unsupported_media_type").inc()
            response = _error(415, "UNSUPPORTED_MEDIA_TYPE", str(exc), exc.field)
        except InvalidPayload as exc:
            metrics.errors.labels(endpoint, "invalid_input").inc()
            response = _error(400, "BAD_REQUEST", str(exc), exc.field)
        except BodyTooLarge:
            metrics.errors.labels(endpoint, "too_large").inc()
            response = _error(
                413,
                "BAD_REQUEST",
                f"the request body is larger than {state.max_body} bytes; send fewer rows per request",
            )
        except VariantFailed as exc:
            metrics.errors.labels(endpoint, "model_error").inc()
            headers = {"x-opskit-variant": exc.variant.source.ref, "x-opskit-version": exc.version}
            response = _error(
                500, "MODEL_ERROR", f"the model {exc.version} failed: {exc}", headers=headers
            )
        except Exception as exc:
            metrics.errors.labels(endpoint, "model_error").inc()
            response = _error(500, "MODEL_ERROR", f"the model failed: {type(exc).__name__}: {exc}")
        else:
            payload: dict[str, Any] = {"predictions": predictions}
            if endpoint == "predict":
                payload.update(variant=variant.source.ref, version=version)
            headers = {"x-opskit-variant": variant.source.ref, "x-opskit-version": version}
            response = Response(_dumps(payload), media_type="application/json", headers=headers)
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return response

    return handler


def _dumps(payload: dict[str, Any]) -> bytes:
    """The response body: orjson (NumPy scalars included) when it can, else the standard library."""
    try:
        import orjson

        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    except (ImportError, TypeError):
        return json.dumps(payload).encode()


def _describe(variant: Variant) -> dict[str, Any]:
    served = variant.current
    if served is None:
        return {"ref": variant.source.ref, "loaded": False}
    v = served.version
    schema = [_column(c) for c in v.signature.columns] if v.signature else None
    return {
        "ref": variant.source.ref,
        "version": v.ref,
        "digest": v.digest,
        "flavor": v.flavor,
        "weight": variant.weight,
        "input_schema": schema,
    }


def _column(spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name, "type": spec.type}
    if spec.missing is not None:
        out["missing"] = spec.missing
    if spec.infinite is not None:
        out["infinite"] = spec.infinite
    if spec.categories is not None:
        out.update(categories=list(spec.categories), ordered=bool(spec.ordered))
    return out


def build_app(spec: dict[str, Any]) -> Starlette:
    """The ASGI app for one worker."""
    state = ServerState(spec)

    async def health(request: Request) -> Response:
        if not state.ready:
            return JSONResponse({"status": "loading"}, status_code=503)
        return JSONResponse({"status": "ok", "deployment": state.name, "pid": os.getpid()})

    async def metadata(request: Request) -> Response:
        variants = [_describe(v) for v in state.variants]
        first = variants[0]
        return JSONResponse(
            {
                "deployment": state.name,
                "model_ref": first["ref"],
                "version": first.get("version"),
                "digest": first.get("digest"),
                "input_schema": first.get("input_schema"),
                "variants": variants,
                "shadow": _describe(state.shadow) if state.shadow else None,
            }
        )

    async def metrics(request: Request) -> Response:
        loop = asyncio.get_running_loop()
        monitor = await loop.run_in_executor(state.io, state.monitor_document)
        return Response(state.metrics.render(monitor), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        yield
        await state.stop()

    routes = [
        Route(
            "/invocations",
            _guarded(state, "invocations", _scoring(state, "invocations", parse_invocations)),
            methods=["POST"],
        ),
        Route(
            "/predict",
            _guarded(state, "predict", _scoring(state, "predict", parse_records)),
            methods=["POST"],
        ),
        Route("/health", health, methods=["GET"]),
        Route("/ping", health, methods=["GET"]),
        Route("/metadata", _guarded(state, "metadata", metadata), methods=["GET"]),
        Route("/metrics", _guarded(state, "metrics", metrics, always=False), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(RequestIds)])
    app.state.server = state
    return app


def create_app() -> Starlette:
    """uvicorn factory: reads the spec file named by ``$OPSKIT_SERVE_SPEC``."""
    from opskit.config import env_text
    from opskit.errors import ConfigError

    path = env_text(SPEC_ENV)
    if path is None:
        raise ConfigError(
            f"${SPEC_ENV} is not set: start the model server with `python -m opskit.serve SPEC.json`"
        )
    with open(path, encoding="utf-8") as fh:
        return build_app(json.load(fh))
