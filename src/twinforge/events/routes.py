"""Event routes (ADT's /eventroutes) and the endpoints they deliver to.

An endpoint is a sink: ``{"type": "mqtt", "topic": "twinforge/events/{type}/{subject}"}``
publishes each event over the server's MQTT connection, and ``{"type": "webhook",
"url": "https://...", "headers": {...}, "maxRetries": 5}`` POSTs it, retrying with
exponential back-off; what still fails goes to the dead-letter store. A route joins a
filter (ADT's event filter syntax: ``type = 'Microsoft.DigitalTwins.Twin.Update' AND
STARTS_WITH(subject, 'pump')``) to an endpoint. Routes, endpoints and each route's
delivery cursor live in the store, so delivery resumes where it stopped.

A periodic route (FIWARE's ``timeInterval`` subscriptions) has a ``query`` and an
``interval`` instead of a filter: every interval it sends one notification of type
``twinforge.Route.Periodic`` whose ``data.value`` holds the rows the query returns then.
The time of the last notification is kept in the store too: after a restart the schedule
goes on (one notification with the current state if periods were missed, not a burst).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from twinforge.documents import EndpointDocument, RouteDocument, check
from twinforge.durations import seconds
from twinforge.errors import InvalidArgument, NotFound
from twinforge.events.bus import EventBus, EventFilter, envelope
from twinforge.history.timeutil import from_us
from twinforge.ingest import Ingestor
from twinforge.outages import Outage
from twinforge.query import Evaluator, parse_query
from twinforge.records import Collection, Kind
from twinforge.store.base import DeadLetter, EventRecord

log = logging.getLogger("twinforge.routes")
_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,100}$")
_ADT_FUNCTIONS = {"STARTS_WITH": "STARTSWITH", "ENDS_WITH": "ENDSWITH"}
PERIODIC = "twinforge.Route.Periodic"
MIN_INTERVAL = 1.0  # seconds


def compile_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate over event envelopes from ADT's filter syntax; a clear 400 when invalid."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument("a route filter is required ('true' routes every event)", code="InvalidArgument")
    normalised = re.sub(r"\b(STARTS_WITH|ENDS_WITH)\s*\(",
                        lambda m: _ADT_FUNCTIONS[m.group(1).upper()] + "(", text, flags=re.IGNORECASE)
    query = parse_query(f"SELECT * FROM DIGITALTWINS WHERE {normalised}")
    where = query.where
    assert where is not None
    evaluator = Evaluator({}, [], lambda model: [model])
    return lambda event: evaluator.test(where, {None: event})


@dataclass(frozen=True)
class Endpoint:
    name: str
    type: str
    topic: str = "twinforge/events/{type}/{subject}"
    url: str = ""
    headers: dict[str, str] | None = None
    max_retries: int = 5

    @classmethod
    def from_json(cls, name: str, body: Any) -> Endpoint:
        if not _ID.match(name):
            raise InvalidArgument("an endpoint name is 1-100 letters, digits, '-', '_' or '.'", code="InvalidArgument")
        if not isinstance(body, dict) or body.get("type") not in ("mqtt", "webhook"):
            raise InvalidArgument('an endpoint is {"type": "mqtt", "topic": ...} or {"type": "webhook", "url": ...}',
                             code="InvalidArgument")
        check(EndpointDocument, body, f"endpoint '{name}'")
        retries = body.get("maxRetries", 5)
        if not isinstance(retries, int) or not 0 <= retries <= 20:
            raise InvalidArgument("maxRetries must be 0 to 20", code="InvalidArgument")
        if body["type"] == "webhook":
            url = body.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise InvalidArgument("a webhook endpoint needs an http(s) 'url'", code="InvalidArgument")
            headers = body.get("headers") or {}
            if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
                raise InvalidArgument("'headers' must map names to strings", code="InvalidArgument")
            return cls(name, "webhook", url=url, headers=headers, max_retries=retries)
        topic = body.get("topic", cls.topic)
        if not isinstance(topic, str) or not topic or "#" in topic or "+" in topic:
            raise InvalidArgument("an MQTT endpoint needs a 'topic' without wildcards", code="InvalidArgument")
        return cls(name, "mqtt", topic=topic, max_retries=retries)

    def to_json(self) -> dict[str, Any]:
        if self.type == "webhook":
            return {"name": self.name, "type": "webhook", "url": self.url, "headers": self.headers or {},
                    "maxRetries": self.max_retries}
        return {"name": self.name, "type": "mqtt", "topic": self.topic, "maxRetries": self.max_retries}


ENDPOINTS: Kind[Endpoint] = Kind("endpoint", "endpoint", "EndpointNotFound", Endpoint.from_json,
                                 lambda e: e.to_json())
ROUTES: Kind[dict[str, Any]] = Kind("route", "event route", "EventRouteNotFound")


class RouteManager:
    """Keeps one delivery task per event route, restarted when a route or endpoint changes."""

    def __init__(self, bus: EventBus, ingestor: Ingestor, *, mqtt: Any = None, backoff: float = 0.5) -> None:
        self.bus = bus
        self.ingestor = ingestor
        self.store = bus.graph.store
        self.mqtt = mqtt
        self.backoff = backoff
        self._outage = Outage("route watcher: reading routes", log)
        self.delivered: dict[str, int] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None
        # With several processes on one store, only the holder of the store's "routes" lease
        # delivers (else every process would send every event); the others stand by.
        self.lease = self.store.lease("routes")
        self.leading = True
        self._watcher: asyncio.Task[None] | None = None
        self._snapshot: tuple[int, int] = (-1, -1)
        self._endpoints = Collection(self.store, ENDPOINTS)
        self._routes = Collection(self.store, ROUTES)
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- persistence ------------------------------------------------------

    def endpoints(self) -> list[Endpoint]:
        return self._endpoints.list()

    def endpoint(self, name: str) -> Endpoint:
        return self._endpoints.get(name)

    def put_endpoint(self, name: str, body: Any) -> Endpoint:
        endpoint = Endpoint.from_json(name, body)
        if endpoint.type == "mqtt" and self.mqtt is None:
            raise InvalidArgument("MQTT endpoints need the server started with --mqtt", code="InvalidArgument")
        self._endpoints.put(name, endpoint)
        for route in self.routes():
            if route["endpointName"] == name:
                self._restart(route)
        return endpoint

    def delete_endpoint(self, name: str) -> None:
        self.endpoint(name)
        users = [r["id"] for r in self.routes() if r["endpointName"] == name]
        if users:
            raise InvalidArgument(f"endpoint '{name}' is used by route '{users[0]}'", code="EndpointInUse")
        self._endpoints.delete(name)

    def routes(self) -> list[dict[str, Any]]:
        return self._routes.list()

    def route(self, route_id: str) -> dict[str, Any]:
        return self._routes.get(route_id)

    def put_route(self, route_id: str, body: Any) -> dict[str, Any]:
        if not _ID.match(route_id):
            raise InvalidArgument("a route id is 1-100 letters, digits, '-', '_' or '.'", code="EventRouteIdInvalid")
        if not isinstance(body, dict) or not isinstance(body.get("endpointName"), str):
            raise InvalidArgument('an event route is {"endpointName": "...", "filter": "..."}', code="InvalidArgument")
        check(RouteDocument, body, f"event route '{route_id}'")
        try:
            self.endpoint(body["endpointName"])
        except NotFound as exc:
            raise InvalidArgument(exc.message, code="EventRouteEndpointInvalid") from None
        route: dict[str, Any] = {"id": route_id, "endpointName": body["endpointName"],
                                 "filter": body.get("filter", "")}
        if body.get("interval") is not None or body.get("query") is not None:
            route.update(self._periodic(body))
        else:
            try:
                compile_filter(body.get("filter", ""))
            except InvalidArgument as exc:
                raise InvalidArgument(f"the route filter is not valid: {exc.message}",
                                      code="EventRouteFilterInvalid") from None
        self._routes.put(route_id, route)
        if self.store.get_setting(f"cursor:{route_id}") is None:
            self.store.put_setting(f"cursor:{route_id}", str(self.store.last_event_seq()))
        self._restart(route)
        return route

    @staticmethod
    def _periodic(body: dict[str, Any]) -> dict[str, Any]:
        """A periodic route's query and interval, checked."""
        query, interval = body.get("query"), body.get("interval")
        if not isinstance(query, str) or not query.strip() or interval is None:
            raise InvalidArgument('a periodic route needs both "query" (the twins to send) and "interval" '
                                  '(e.g. "PT1M")', code="InvalidArgument")
        try:
            every = seconds(interval, "the route's interval")
        except InvalidArgument as exc:
            raise InvalidArgument(exc.message, code="EventRouteIntervalInvalid") from None
        if every < MIN_INTERVAL:
            raise InvalidArgument(f"the route's interval {interval!r} is shorter than {MIN_INTERVAL:g} s",
                                  code="EventRouteIntervalInvalid")
        try:
            parse_query(query)
        except InvalidArgument as exc:
            raise InvalidArgument(f"the route's query is not valid: {exc.message}",
                                  code="EventRouteQueryInvalid") from None
        return {"query": query, "interval": interval}

    def delete_route(self, route_id: str) -> None:
        self._routes.delete(route_id)
        self.store.delete_setting(f"cursor:{route_id}")
        self.store.delete_setting(f"sent:{route_id}")
        self._on_loop(self._cancel, route_id)

    # -- delivery ---------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._http = httpx.AsyncClient(timeout=10.0)
        self.leading = self._try_lead()
        if self.leading:
            for route in self.routes():
                self._restart(route)
        self._snapshot = await asyncio.to_thread(self._settings)
        self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="route watcher")

    def _try_lead(self) -> bool:
        return self.lease.try_acquire()

    def _settings(self) -> tuple[int, int]:
        return self._endpoints.version(), self._routes.version()

    async def _watch(self, interval: float = 2.0) -> None:
        """Take over when the leading process is gone; follow routes changed by other processes."""
        while True:
            await asyncio.sleep(interval)
            try:
                if not self.leading:
                    self.leading = self._try_lead()
                    if not self.leading:
                        continue
                    self._snapshot = (-1, -1)
                current = await asyncio.to_thread(self._settings)
                if current != self._snapshot:
                    self._snapshot = current
                    routes = await asyncio.to_thread(self.routes)
                    for route_id in set(self._tasks) - {r["id"] for r in routes}:
                        self._tasks.pop(route_id).cancel()
                    for route in routes:
                        self._restart(route)
                self._outage.ok()
            except Exception as exc:  # a store hiccup must not end the watcher
                self._outage.failed(exc)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._http is not None:
            await self._http.aclose()
        self.lease.release()  # another process takes over

    def _restart(self, route: dict[str, Any]) -> None:
        """(Re)start a route's delivery task on the server's loop, from any thread."""
        self._on_loop(self._restart_now, route)

    def _on_loop(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not started yet: start() starts every route
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def _restart_now(self, route: dict[str, Any]) -> None:
        old = self._tasks.pop(route["id"], None)
        if old is not None:
            old.cancel()
        if self.leading:
            work = self._deliver_periodic(route) if route.get("interval") is not None else self._deliver_route(route)
            self._tasks[route["id"]] = asyncio.get_running_loop().create_task(work, name=f"route {route['id']}")

    def _cancel(self, route_id: str) -> None:
        task = self._tasks.pop(route_id, None)
        if task is not None:
            task.cancel()

    async def _deliver_route(self, route: dict[str, Any]) -> None:
        endpoint = await asyncio.to_thread(self.endpoint, route["endpointName"])
        event_filter = EventFilter(custom=compile_filter(route["filter"]))
        cursor_key = f"cursor:{route['id']}"
        saved = await asyncio.to_thread(self.store.get_setting, cursor_key)
        after = int(saved) if saved else await asyncio.to_thread(self.store.last_event_seq)
        saved_at, stored = time.monotonic(), after
        try:
            async for event in self.bus.stream(event_filter, after):
                await self._deliver(route, endpoint, event)
                self.delivered[route["id"]] = self.delivered.get(route["id"], 0) + 1
                after = event.seq
                # Saved at most twice a second: after a crash a few events may be sent again
                # (at-least-once delivery), none are skipped.
                if time.monotonic() - saved_at > 0.5:
                    await asyncio.to_thread(self.store.put_setting, cursor_key, str(after))
                    saved_at, stored = time.monotonic(), after
        except asyncio.CancelledError:
            if after != stored:  # a stop (or a route changed) is no crash: the next deliverer goes on from here
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.store.put_setting, cursor_key, str(after))
            raise

    async def _deliver_periodic(self, route: dict[str, Any]) -> None:
        endpoint = await asyncio.to_thread(self.endpoint, route["endpointName"])
        every = seconds(route["interval"])
        key = f"sent:{route['id']}"
        graph = self.bus.graph
        while True:
            saved = await asyncio.to_thread(self.store.get_setting, key)
            wait = (float(saved) if saved else 0.0) + every - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.time()
            data: dict[str, Any] = {"query": route["query"]}
            try:
                data["value"] = await asyncio.to_thread(lambda: list(graph.query(route["query"])))
            except Exception as exc:  # the query no longer runs (a model deleted...): say so, keep the schedule
                log.warning("periodic route %s: %s", route["id"], exc)
                data["error"] = f"{type(exc).__name__}: {exc}"
            body = {"id": f"{route['id']}-{int(now * 1000)}", "type": PERIODIC, "source": "twinforge",
                    "subject": route["id"], "time": from_us(int(now * 1e6)), "dataschema": None, "data": data}
            await self._send(route, endpoint, body)
            self.delivered[route["id"]] = self.delivered.get(route["id"], 0) + 1
            await asyncio.to_thread(self.store.put_setting, key, repr(now))

    async def _deliver(self, route: dict[str, Any], endpoint: Endpoint, event: EventRecord) -> None:
        await self._send(route, endpoint, envelope(event))

    async def _send(self, route: dict[str, Any], endpoint: Endpoint, body: dict[str, Any]) -> None:
        payload = orjson.dumps(body)
        error = ""
        for attempt in range(endpoint.max_retries + 1):
            try:
                if endpoint.type == "webhook":
                    assert self._http is not None
                    headers = {"Content-Type": "application/json", "ce-id": body["id"],
                               "ce-type": body["type"], "ce-source": "twinforge", "ce-subject": body["subject"],
                               "ce-specversion": "1.0", **(endpoint.headers or {})}
                    response = await self._http.post(endpoint.url, content=payload, headers=headers)
                    if response.status_code < 300:
                        return
                    error = f"HTTP {response.status_code}"
                else:
                    if self.mqtt is None:
                        raise ConnectionError("the server has no MQTT connection")
                    topic = endpoint.topic.format(type=body["type"], subject=body["subject"], id=body["id"],
                                                  model=body["dataschema"] or "")
                    self.mqtt.publish(topic, payload)
                    return
            except (httpx.HTTPError, ConnectionError, OSError, KeyError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt < endpoint.max_retries:
                await asyncio.sleep(self.backoff * (2 ** attempt))
        letters: list[DeadLetter] = []
        self.ingestor.dead_letter(letters, f"route:{route['id']}", "delivery_failed",
                                  f"{endpoint.type} endpoint '{endpoint.name}' failed "
                                  f"{endpoint.max_retries + 1} time(s): {error}", body)
        await asyncio.to_thread(self.ingestor.keep_dead_letters, letters)
