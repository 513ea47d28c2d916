"""The FastAPI application: ADT-compatible data plane over a TwinGraph.

Errors of the library are mapped to HTTP once (``api/errors.py``) in ADT's shape
``{"error": {"code": ..., "message": ...}}``. Store work runs in thread pools
(``api/http.Workers``): the event loop only moves bytes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from twinforge import __version__
from twinforge.api.batching import WriteBatcher
from twinforge.api.errors import ERROR_RESPONSES, error_body, status_of
from twinforge.api.fastpath import FastPathMiddleware
from twinforge.api.http import (
    Workers,
    error_response,
    json_response,
)
from twinforge.api.limits import Limits, LimitsMiddleware
from twinforge.errors import TwinforgeError
from twinforge.graph import TwinGraph

log = logging.getLogger("twinforge.api")


def _scenarios(graph: TwinGraph, bus: Any, directory: str | None) -> Any:
    """The scenario service, when the simulation extra is installed (else None: 501 on use)."""
    try:
        from twinforge.sim.service import ScenarioManager
    except ImportError as exc:  # numpy/scipy are in the [sim] extra
        log.info("scenarios are off (%s): pip install 'twinforge[sim]'", exc)
        return None
    from twinforge.history.timeutil import from_us, now_us
    from twinforge.store.base import EventRecord

    def announce(scenario_id: str, data: dict[str, Any]) -> None:
        bus.announce(EventRecord(from_us(now_us()), "Scenario.Progress", scenario_id, orjson.dumps(data).decode()))

    return ScenarioManager(graph, directory=directory, announce=announce)


ANNOUNCED = frozenset({"Anomaly.Score", "Rul.Estimate"})  # what the evaluator announces live


def _analytics(graph: TwinGraph, bus: Any, mode: str) -> tuple[Any, Any, Any]:
    """Detectors, RUL models and alert rules, and the evaluator that feeds them from the event
    log (None each when the predict extra is not installed: 501 on use)."""
    try:
        from twinforge.analytics import AlertService, AnalyticsEngine
        from twinforge.analytics.evaluator import Evaluator
    except ImportError as exc:
        log.info("analytics are off (%s): pip install 'twinforge[predict]'", exc)
        return None, None, None
    from twinforge.history.timeutil import from_us, now_us
    from twinforge.store.base import EventRecord

    def announce(kind: str, twin: str, data: dict[str, Any]) -> None:
        bus.announce(EventRecord(from_us(now_us()), kind, twin, orjson.dumps(data).decode()))

    def announce_many(batch: list[tuple[str, str, dict[str, Any]]]) -> None:
        now = from_us(now_us())
        bus.announce_many([EventRecord(now, kind, twin, orjson.dumps(data).decode()) for kind, twin, data in batch])

    engine = AnalyticsEngine(graph, announce=announce)
    alerts = AlertService(graph, engine)
    from twinforge.analytics.evaluator import mark_start

    mark_start(graph.store)  # values written before the evaluator is up are evaluated too
    if mode == "process" and ":memory:" not in graph.store.url:
        from twinforge.analytics.worker import EvaluatorProcess

        return engine, alerts, EvaluatorProcess(graph.store.url, announce=announce_many,
                                                wanted=lambda: bus.wants(ANNOUNCED))
    return engine, alerts, Evaluator(graph, engine, alerts)


def create_app(graph: TwinGraph, *, threads: int = 4, query_threads: int = 4,
               query_timeout: float = 10.0, scenario_dir: str | None = None, auth: bool = False,
               oidc: Any = None, audit_retention: int | None = None, evaluator: str = "thread",
               blobs: Any = None, limits: Limits | None = None) -> FastAPI:
    """An ADT-compatible API serving ``graph``.

    ``threads`` and ``query_threads`` size the pools that run store work and queries;
    ``query_timeout`` (seconds) bounds every query; ``audit_retention`` (microseconds) is how
    long audit rows are kept (for ever when None); ``evaluator`` is where detectors and alert
    rules are evaluated: ``thread`` (in this process) or ``process`` (a worker process of its own,
    on another core: what `serve` uses); ``blobs`` (a `twinforge.jobs.BlobPolicy`) says which
    folders and hosts import jobs may use (none by default); ``limits`` bound each client's
    request rate, open streams and body sizes (`twinforge.api.limits`).
    """
    from twinforge.events import EventBus

    bus = EventBus(graph)
    workers = Workers(threads, query_threads)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bus.start()
        for start in app.state.on_start:
            await start(app)
        app.state.routes.mqtt = getattr(app.state, "mqtt", None)
        await app.state.routes.start()
        if app.state.evaluator is not None:
            graph.subscribe(app.state.evaluator.wake)
            app.state.evaluator.start()
        if app.state.audit_retention is not None:
            app.state.audit_retention.start()
        try:
            yield
        finally:
            await app.state.routes.stop()
            app.state.jobs.close()
            if app.state.scenarios is not None:
                app.state.scenarios.close()
            if app.state.evaluator is not None:
                graph.unsubscribe(app.state.evaluator.wake)
                app.state.evaluator.close()
            if app.state.audit_retention is not None:
                app.state.audit_retention.close()
            for stop in reversed(app.state.on_stop):
                await stop(app)
            await bus.stop()
            workers.close()

    app = FastAPI(
        lifespan=lifespan,
        title="twinforge",
        version=__version__,
        description="Digital twins: an Azure Digital Twins compatible data plane, and more.",
        docs_url=None, redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    app.state.graph = graph
    app.state.oidc = oidc
    app.state.bus = bus
    app.state.workers = workers
    app.state.query_timeout = query_timeout
    app.state.connectors = []  # objects with .status(): reported by /health and /ingest/status
    app.state.on_start = []  # async callables(app): connectors and routers add themselves
    app.state.on_stop = []

    @app.exception_handler(TwinforgeError)
    async def _twinforge_error(_: Request, exc: TwinforgeError) -> Response:
        return json_response(error_body(exc), status_of(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # A bug, not the client's fault: logged with its traceback, answered as JSON without
        # Python's name for it (a plain-text "Internal Server Error" helped nobody).
        logging.getLogger("twinforge.api").error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, "InternalError", "the server could not do this; the server log says why")

    @app.exception_handler(RequestValidationError)
    async def _request_error(_: Request, exc: RequestValidationError) -> Response:
        return error_response(400, "InvalidArgument", str(exc.errors()[:3]))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "BadRequest")
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # 405 says what is allowed (Allow)
        return response

    app.add_middleware(FastPathMiddleware, graph=graph)
    if getattr(graph.store, "replicated", False):  # serve --db-read: Twinforge-Session tokens
        from twinforge.api.replica import ReadYourWritesMiddleware

        app.add_middleware(ReadYourWritesMiddleware, position=getattr(graph.store, "session_token"))  # noqa: B009
    app.state.limits = limits or Limits()
    app.add_middleware(LimitsMiddleware, limits=app.state.limits)  # after auth: a token is known by name
    if auth:
        from twinforge.auth import AuthMiddleware

        app.add_middleware(AuthMiddleware, graph=graph, oidc=oidc, workers=workers)  # outermost: before the fast path

    from twinforge.api.docs import router as docs_router
    from twinforge.api.routes import router
    from twinforge.api.routes_aas import router as aas_router
    from twinforge.api.routes_audit import router as audit_router
    from twinforge.api.routes_city import router as city_router
    from twinforge.api.routes_data import router as data_router
    from twinforge.api.routes_events import router as events_router
    from twinforge.api.routes_geometry import router as geometry_router
    from twinforge.api.routes_jobs import router as jobs_router
    from twinforge.api.routes_predict import router as predict_router
    from twinforge.api.routes_scenarios import router as scenarios_router
    from twinforge.api.routes_stream import router as stream_router
    from twinforge.events.routes import RouteManager
    from twinforge.ingest import Ingestor
    from twinforge.jobs import JobManager
    from twinforge.ui import router as ui_router

    app.state.ingestor = Ingestor(graph)
    # Bulk ingest requests that arrive together share one transaction on the writer thread.
    app.state.patches = WriteBatcher(workers, graph.update_twins)
    app.state.puts = WriteBatcher(workers, graph.put_twins)
    app.state.committer = WriteBatcher(workers, app.state.ingestor.apply_many, max_weight=200_000,
                                       weight=lambda submission: len(submission[0]))
    app.state.routes = RouteManager(bus, app.state.ingestor)
    app.state.jobs = JobManager(graph, write=lambda fn: workers.writer.submit(fn).result(), blobs=blobs)
    app.state.scenarios = _scenarios(graph, bus, scenario_dir)
    app.state.analytics, app.state.alerts, app.state.evaluator = _analytics(graph, bus, evaluator)
    app.state.audit_retention = None
    if audit_retention is not None:
        from twinforge.auth import AuditRetention

        app.state.audit_retention = AuditRetention(graph, audit_retention)
    app.include_router(router)
    app.include_router(data_router)
    app.include_router(stream_router)
    app.include_router(events_router)
    app.include_router(jobs_router)
    app.include_router(scenarios_router)
    app.include_router(predict_router)
    app.include_router(audit_router)
    app.include_router(docs_router)
    app.include_router(geometry_router)
    app.include_router(aas_router)
    app.include_router(city_router)
    app.include_router(ui_router)
    return app
