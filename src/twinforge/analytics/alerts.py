"""Alert rules and alerts.

A rule holds a condition in the query language's expression syntax over a twin's state: its
properties, its latest telemetry, ``anomaly.<detector>`` scores and ``rul`` (with ``rulLow``,
``rulHigh``). ``for`` is how long the condition must hold before an alert is raised;
``clear`` (default: the condition is false) resolves it, giving hysteresis. One alert at a
time per rule and twin. Alerts are kept in a table of their own; their changes are events
(``Alert.Raised``, ``Alert.Acknowledged``, ``Alert.Resolved``) in the event log, so `/stream`
and event routes carry them.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from twinforge.analytics.rules import (
    NAME,
    QUERY_WORDS,
    RULE_ID,
    SEVERITIES,
    STATES,
    Rule,
    compile_condition,
)
from twinforge.documents import RuleDocument
from twinforge.documents import check as checked
from twinforge.durations import seconds
from twinforge.errors import InvalidArgument, NotFound
from twinforge.history.timeutil import from_us, now_us, parse_time
from twinforge.records import Collection, Kind
from twinforge.store.base import EventRecord

log = logging.getLogger("twinforge.alerts")

if TYPE_CHECKING:
    from twinforge.analytics.engine import AnalyticsEngine
    from twinforge.graph import TwinGraph

class AlertService:
    """Rules (records every server shares), the alerts they raise (a table of their own), and
    their evaluation, which the `Evaluator` runs on one server at a time."""

    def __init__(self, graph: TwinGraph, analytics: AnalyticsEngine | None = None) -> None:
        self.graph = graph
        self.analytics = analytics
        # Stored rules were checked against the models when they were put: read back, only compiled.
        self._records = Collection(graph.store, Kind("alert-rule", "alert rule", "AlertRuleNotFound",
                                                     lambda key, body: self.parse_rule(key, body, check=False),
                                                     Rule.to_json))
        self._rules = self._records.cache()
        self._pending: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}  # (rule, twin) -> since, state
        self._lock = threading.RLock()
        self._states: dict[str, dict[str, Any]] = {}  # twin -> its state as the event log tells it
        self._by_model: tuple[dict[str, Rule], dict[str, list[Rule]]] = ({}, {})
        self.failures: Counter[str] = Counter()  # rule id -> evaluations that raised
        # (rule, twin) -> id of its alert that is not resolved: the evaluator is the only one
        # that raises and resolves, so it keeps them in memory (loaded from the store when it starts)
        self._open_ids: dict[tuple[str, str], str] | None = None
        self._logged: set[str] = set()

    @property
    def rules(self) -> dict[str, Rule]:
        """The rules in force (reloaded when any server changes one)."""
        return self._rules.all()

    def refresh(self) -> None:
        """Check the rules against the store at the next read."""
        self._rules.invalidate()

    # -- rules -------------------------------------------------------------

    def parse_rule(self, rule_id: str, body: Any, *, check: bool = True) -> Rule:
        """A rule from its document; with ``check``, its model, twin and names are checked too."""
        if not RULE_ID.match(rule_id):
            raise InvalidArgument("a rule id is 1-100 letters, digits, '.', '-' or '_'")
        if check:
            compile_condition(body.get("condition") if isinstance(body, dict) else None, "condition")
            checked(RuleDocument, body, f"rule '{rule_id}'")
        model, twin = body.get("model"), body.get("twin")
        if check and isinstance(model, str) and model not in self.graph.models:
            self.graph.refresh_models()  # uploaded through another server, perhaps
        models = self.graph.models
        if check and model is not None and (not isinstance(model, str) or model not in models):
            raise InvalidArgument(f"rule '{rule_id}': unknown model {model!r}")
        if twin is not None and check:
            record = self.graph.store.get_twin(twin) if isinstance(twin, str) else None
            if record is None:
                raise InvalidArgument(f"rule '{rule_id}': there is no twin {twin!r}")
            model = model or record.model
        severity = body.get("severity", "warning")
        if severity not in SEVERITIES:
            raise InvalidArgument(f"severity must be one of {', '.join(SEVERITIES)}")
        hold = seconds(body.get("for", 0), "for")
        test = compile_condition(body.get("condition"), "condition")
        clear = body.get("clear")
        cleared = compile_condition(clear, "clear") if clear is not None else (lambda state: not test(state))
        if model is not None and check:
            self._check_names(rule_id, body["condition"], model)
            if clear is not None:
                self._check_names(rule_id, clear, model)
        return Rule(rule_id, body["condition"], severity, hold, clear, model, twin, test, cleared)

    def _check_names(self, rule_id: str, text: str, model: str) -> None:
        """Every name is a property, telemetry or component of the model (or anomaly/RUL), every
        ``anomaly.X`` a detector, and a number is never compared with text."""
        from twinforge.dtdl.metamodel import NUMERIC

        view = self.graph.models.interface(model)
        known = set(view.properties) | set(view.telemetry) | set(view.components) | {"anomaly", "rul", "rulLow",
                                                                                        "rulHigh"}
        for detector in re.findall(r"\banomaly\.([A-Za-z_][A-Za-z0-9_]*)", text):
            if self.graph.store.get_record("detector", detector) is None:
                raise InvalidArgument(f"rule '{rule_id}': 'anomaly.{detector}' names no detector (create it with "
                                      f"PUT /analytics/detectors/{detector})")
        elements = {**view.properties, **view.telemetry}
        numeric = {n for n, e in elements.items() if str(e.ref("schema")) in NUMERIC} | {"rul", "rulLow", "rulHigh"}
        for name, op in re.findall(r"(?<![.\w])([A-Za-z_]\w*)\s*(>=|<=|!=|<>|=|>|<)\s*['\"]", text):
            if name in numeric:
                raise InvalidArgument(f"rule '{rule_id}': '{name}' is a number; it cannot be compared ({op}) with text")
        stripped = re.sub(r"'[^']*'|\"[^\"]*\"", "", text)
        for match in NAME.finditer(stripped):
            name = match.group(1)
            start = match.start()
            if name.upper() in QUERY_WORDS or (start > 0 and stripped[start - 1] == "."):
                continue
            if name not in known and not name.startswith("$"):
                raise InvalidArgument(f"rule '{rule_id}': '{name}' is not a property or telemetry of {model}")

    def put_rule(self, rule_id: str, body: Any) -> Rule:
        rule = self._records.put(rule_id, self.parse_rule(rule_id, body))
        self._rules.invalidate()
        return rule

    def get_rule(self, rule_id: str) -> Rule:
        return self._records.get(rule_id)

    def list_rules(self) -> list[Rule]:
        return self._records.list()

    def delete_rule(self, rule_id: str) -> None:
        self._records.delete(rule_id)
        self._rules.invalidate()

    def load_rules(self, items: list[Any]) -> int:
        """Rules from a YAML file's list (each with its `id`): validated first, then put."""
        if not isinstance(items, list):
            raise InvalidArgument("a rules file is a list of rules, each with an id")
        parsed = []
        for k, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise InvalidArgument(f"rules[{k}]: each rule needs an id")
            parsed.append((item["id"], item))
            self.parse_rule(item["id"], item)
        with self.graph.store.transaction():
            for rule_id, item in parsed:
                self.put_rule(rule_id, item)
        return len(parsed)

    # -- alerts -------------------------------------------------------------

    def list_alerts(self, *, state: str | None = None, twin: str | None = None, severity: str | None = None,
                    after: tuple[int, str] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Alerts by time raised (oldest first), a page at a time after the (raised, id) position ``after``."""
        if state is not None and state not in STATES:
            raise InvalidArgument(f"state must be one of {', '.join(STATES)}")
        if severity is not None and severity not in SEVERITIES:
            raise InvalidArgument(f"severity must be one of {', '.join(SEVERITIES)}")
        return [orjson.loads(raw) for raw in self.graph.store.list_alerts(state=state, twin=twin, severity=severity,
                                                                          after=after, limit=limit)]

    def get_alert(self, alert_id: str) -> dict[str, Any]:
        raw = self.graph.store.get_alert(alert_id)
        if raw is None:
            raise NotFound(f"there is no alert '{alert_id}'", code="AlertNotFound")
        alert: dict[str, Any] = orjson.loads(raw)
        return alert

    def _save(self, alert: dict[str, Any], kind: str) -> None:
        if self._open_ids is not None and kind != "Alert.Acknowledged":
            key = (alert["rule"], alert["twinId"])
            if alert["state"] == "resolved":
                self._open_ids.pop(key, None)
            else:
                self._open_ids[key] = alert["id"]
        store = self.graph.store
        record = store.get_twin(alert["twinId"])
        text = orjson.dumps(alert).decode()
        with store.transaction():
            store.put_alert(alert["id"], alert["rule"], alert["twinId"], alert["state"], alert["severity"],
                            parse_time(alert["raisedAt"]), text)
            store.append_events([EventRecord(from_us(now_us()), kind, alert["twinId"], text,
                                             model=record.model if record else None)])
        self.graph.notify()

    def acknowledge(self, alert_id: str) -> dict[str, Any]:
        with self._lock, self.graph.store.transaction():
            alert = self.get_alert(alert_id)
            if alert["state"] == "active":
                alert["state"] = "acknowledged"
                alert["acknowledgedAt"] = from_us(now_us())
                self._save(alert, "Alert.Acknowledged")
            return alert

    def _open(self, rule_id: str, twin: str) -> dict[str, Any] | None:
        if self._open_ids is None:
            self._open_ids = {}
            for state in ("active", "acknowledged"):
                after: tuple[int, str] | None = None
                while True:
                    page = self.list_alerts(state=state, after=after, limit=1000)
                    for alert in page:
                        self._open_ids[(alert["rule"], alert["twinId"])] = alert["id"]
                    if len(page) < 1000:
                        break
                    after = (parse_time(page[-1]["raisedAt"]), page[-1]["id"])
        if (rule_id, twin) not in self._open_ids:
            return None
        raw = self.graph.store.open_alert(rule_id, twin)
        if raw is None:  # resolved meanwhile (by an evaluator that led before this one)
            self._open_ids.pop((rule_id, twin), None)
            return None
        return orjson.loads(raw)  # type: ignore[no-any-return]

    # -- evaluation (the evaluator's thread) ------------------------------------

    def forget(self, twin: str) -> None:
        self._states.pop(twin, None)
        self._pending = {k: v for k, v in self._pending.items() if k[1] != twin}

    def reset(self) -> None:
        """Forget twin states and pending holds (the evaluator took over from another server)."""
        with self._lock:
            self._states.clear()
            self._pending.clear()
            self._open_ids = None

    def _state(self, twin: str, document: str | None = None) -> dict[str, Any] | None:
        """The twin as the evaluator follows it: its document when first seen (or created), then
        every value of the event log applied in order, with its anomaly scores and RUL."""
        if document is not None:
            self._states[twin] = orjson.loads(document)
        state = self._states.get(twin)
        if state is None:
            record = self.graph.store.get_twin(twin)
            if record is None:
                return None
            state = self._states[twin] = orjson.loads(record.document)
        return state

    def state_of(self, twin: str) -> dict[str, Any] | None:
        """A twin's state as rules read it: properties, latest telemetry, anomaly scores and RUL."""
        state = self._state(twin)
        if state is not None and self.analytics is not None:
            extra = self.analytics.latest.get(twin)
            if extra:
                state.update(extra)
        return state

    def _rules_for(self, model: str) -> list[Rule]:
        rules = self.rules
        if self._by_model[0] is not rules:
            self._by_model = (rules, {})
        found = self._by_model[1].get(model)
        if found is None:
            models = self.graph.models
            found = self._by_model[1][model] = [
                r for r in rules.values() if r.model is None or r.model == model
                or (model in models and models.is_of_model(model, r.model))]
        return found

    def observe(self, twin: str, model: str, values: dict[str, Any], at: int | None = None) -> None:
        """One sample of a twin, in log order: its values (and the scores of its detectors, set
        just before) are applied to the twin's state and every rule of its model is checked."""
        rules = self._rules_for(model)
        if not rules:
            return
        state = self.state_of(twin)
        if state is None:
            return
        state.update(values)
        now = at if at is not None else now_us()
        if self._open_ids is None:
            self._open(rules[0].id, twin)  # loads the open alerts
        open_ids, pending = self._open_ids or {}, self._pending
        with self._lock:
            for rule in rules:
                if rule.twin is not None and rule.twin != twin:
                    continue
                key = (rule.id, twin)
                try:
                    holds = rule.test(state)
                except Exception:
                    holds = True  # _evaluate gives the verdict again, and counts and logs the failure
                if holds or key in pending or key in open_ids:  # else nothing to do: the common case
                    self._evaluate(rule, twin, state, now)

    def created(self, twin: str, model: str, document: str, at: int | None = None) -> None:
        """A twin was created (or replaced): its rules are checked on its new document."""
        self._state(twin, document)
        self.observe(twin, model, {}, at)

    def evaluate_twins(self, twins: set[str], at: int | None = None) -> None:
        """Check every rule that applies to each of ``twins`` on their current state."""
        for twin in sorted(twins):
            state = self.state_of(twin)
            if state is not None:
                self.observe(twin, state.get("$metadata", {}).get("$model", ""), {}, at)

    def _verdict(self, rule: Rule, test: Callable[[dict[str, Any]], bool], twin: str,
                 state: dict[str, Any]) -> bool | None:
        """A condition's verdict on a state, or None when it cannot be read (counted, logged once per rule)."""
        try:
            return test(state)
        except Exception as exc:
            self.failures[rule.id] += 1
            if rule.id not in self._logged:
                self._logged.add(rule.id)
                log.warning("alert rule '%s' cannot be evaluated on twin '%s': %s; further failures of this rule "
                            "are only counted (/health)", rule.id, twin, exc)
            return None

    def _evaluate(self, rule: Rule, twin: str, state: dict[str, Any], now: int) -> None:
        key = (rule.id, twin)
        holds = self._verdict(rule, rule.test, twin, state)
        if holds is None:
            return
        open_alert = self._open(rule.id, twin)
        if open_alert is not None:
            self._pending.pop(key, None)
            if self._verdict(rule, rule.cleared, twin, state):
                open_alert["state"] = "resolved"
                open_alert["resolvedAt"] = from_us(now)
                self._save(open_alert, "Alert.Resolved")
            return
        if not holds:
            self._pending.pop(key, None)
            return
        since = self._pending.setdefault(key, (now, state))[0]
        self._pending[key] = (since, state)
        if (now - since) / 1e6 >= rule.hold:
            self._pending.pop(key, None)
            names = NAME.findall(rule.condition)
            value = {n: state[n] for n in names if n in state and not isinstance(state[n], dict)}
            self._save({"id": str(uuid.uuid4()), "rule": rule.id, "twinId": twin, "severity": rule.severity,
                        "state": "active", "raisedAt": from_us(now), "resolvedAt": None, "value": value,
                        "condition": rule.condition}, "Alert.Raised")

    def check_pending(self, skip: set[str], at: int | None = None) -> None:
        """Raise alerts whose ``for`` elapsed without new data (twins in ``skip`` were just evaluated)."""
        now = at if at is not None else now_us()
        rules = self.rules
        with self._lock:
            for (rule_id, twin), (_, state) in list(self._pending.items()):
                rule = rules.get(rule_id)
                if rule is None:
                    self._pending.pop((rule_id, twin), None)
                elif twin not in skip:
                    self._evaluate(rule, twin, self.state_of(twin) or state, now)


__all__ = ["SEVERITIES", "STATES", "AlertService", "Rule", "compile_condition"]
