// Alerts: /ui/alerts?state=&severity= — list, acknowledge, follow live.
import { ApiError, ago, api, fmt, h, listAll, position, stream, twinLink } from "./lib.js";
import { go } from "./app.js";

// What the condition read when the alert was raised: "lastValue = 35.2", not raw JSON.
function valueText(value) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value).map(([k, v]) => `${k} = ${fmt(v)}`).join(", ");
  }
  return fmt(value);
}

export async function render(main, { params }) {
  const state = h("select", { "aria-label": "State" }, ["", "active", "acknowledged", "resolved"].map((s) => h("option", { value: s, selected: s === (params.get("state") || "") }, s || "any state")));
  const severity = h("select", { "aria-label": "Severity" }, ["", "critical", "warning", "info"].map((s) => h("option", { value: s, selected: s === (params.get("severity") || "") }, s || "any severity")));
  const list = h("div"); const msg = h("div", { role: "status" }); const rules = h("div");
  for (const s of [state, severity]) s.addEventListener("change", () => {
    const p = new URLSearchParams(); if (state.value) p.set("state", state.value); if (severity.value) p.set("severity", severity.value);
    go(`/ui/alerts${p.toString() ? "?" + p : ""}`);
  });
  main.replaceChildren(h("h1", "Alerts"), h("div.row", state, severity), msg, list, h("section.panel", h("h2", "Rules"), rules));
  async function draw() {
    const q = new URLSearchParams(); if (state.value) q.set("state", state.value); if (severity.value) q.set("severity", severity.value);
    const alerts = await listAll(`/alerts${q.toString() ? "?" + q : ""}`);
    list.replaceChildren(alerts.length ? h("div.scroll", h("table", h("thead", h("tr", ["severity", "twin", "rule", "condition", "value", "state", "raised", ""].map((c) => h("th", c)))),
      h("tbody", alerts.slice().reverse().map((a) => h("tr", h("td", h(`span.badge.${a.severity}`, a.severity)), h("td", twinLink(a.twinId)), h("td", a.rule),
        h("td.mono.small", a.condition), h("td.num", valueText(a.value)), h("td", a.state), h("td.small", ago(a.raisedAt)),
        h("td", a.state === "active" ? h("button.small", { type: "button", on: { click: () => ack(a.id) } }, "Acknowledge") : "")))))) : h("p.muted", "No alerts."));
  }
  async function ack(id) {
    try { await api(`/alerts/${encodeURIComponent(id)}/acknowledge`, { method: "POST", body: {} }); msg.replaceChildren(h("p.ok", "Acknowledged.")); }
    catch (e) { msg.replaceChildren(h("p.error", e instanceof ApiError ? `${e.code}: ${e.message}` : String(e))); }
    await draw();
  }
  const resumeAt = await position(); // the stream replays what changed after it: nothing read is missed
  await draw();
  const r = await listAll("/alerts/rules").catch(() => []);
  rules.replaceChildren(r.length ? h("ul", r.map((x) => h("li", h("b", x.id), ` ${x.severity}: `, h("code", x.condition), x.model ? ` on ${x.model}` : "", x.twin ? ` on ${x.twin}` : ""))) : h("p.muted", "No alert rules (PUT /alerts/rules/{id}, or serve --rules FILE)."));
  let timer = 0;
  const stop = stream({ type: ["Alert.Raised", "Alert.Acknowledged", "Alert.Resolved"] }, () => { clearTimeout(timer); timer = setTimeout(draw, 200); }, () => {}, resumeAt);
  return () => { stop(); clearTimeout(timer); };
}
