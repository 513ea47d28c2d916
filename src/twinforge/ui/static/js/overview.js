// Overview: counts, ingest rate and connector state, active alerts, recent events (live).
import { ago, api, h, listAll, position, queryAll, shortModel, stream, twinLink } from "./lib.js";

export async function render(main) {
  const counts = { models: h("div.n", "…"), twins: h("div.n", "…"), rels: h("div.n", "…"), rate: h("div.n", "…") };
  const connectors = h("div", h("p.muted", "…"));
  const alerts = h("div", h("p.muted", "…"));
  const events = h("ul.events", { "aria-live": "polite" });
  const state = h("span.muted.small", "connecting…");
  main.replaceChildren(
    h("h1", "Overview"),
    h("div.cards",
      h("div.card", counts.models, h("div.l", h("a", { href: "/ui/models" }, "models"))),
      h("div.card", counts.twins, h("div.l", h("a", { href: "/ui/graph" }, "twins"))),
      h("div.card", counts.rels, h("div.l", "relationships")),
      h("div.card", counts.rate, h("div.l", "updates/s ingested"))),
    h("div.grid2",
      h("section.panel", h("h2", "Connectors"), connectors, h("h2", "Active alerts"), alerts),
      h("section.panel", h("h2", "Recent events ", state), events)));

  const [models, twins, rels] = await Promise.all([
    listAll("/models"), queryAll("SELECT COUNT() FROM DIGITALTWINS"), queryAll("SELECT COUNT() FROM RELATIONSHIPS")]);
  counts.models.textContent = models.length.toLocaleString();
  counts.twins.textContent = twins[0].COUNT.toLocaleString();
  counts.rels.textContent = rels[0].COUNT.toLocaleString();

  let last = null;
  async function poll() {
    try {
      const s = await api("/ingest/status");
      const total = s.connectors.reduce((n, c) => n + (c.updates || 0), 0);
      const now = performance.now();
      if (last) counts.rate.textContent = ((total - last.total) / ((now - last.now) / 1000)).toFixed(1);
      else counts.rate.textContent = "–";
      last = { total, now };
      connectors.replaceChildren(s.connectors.length ? h("ul", s.connectors.map((c) => h("li",
        h("b", c.name), " ", h(c.state === "running" && c.connected !== false ? "span.ok" : "span.warn", c.state),
        ` · ${(c.messages || 0).toLocaleString()} messages, ${(c.rejected || 0).toLocaleString()} refused`,
        c.lastError ? h("div.error.small", c.lastError) : null))) : h("p.muted", "No connectors: the server ingests over HTTP only."));
      const active = await api("/alerts?state=active");
      alerts.replaceChildren(active.value.length ? h("ul", active.value.slice(0, 20).map((a) => h("li",
        h(`span.badge.${a.severity}`, a.severity), " ", twinLink(a.twinId), ` ${a.rule}: ${a.condition} (value ${JSON.stringify(a.value)}) `,
        h("span.muted.small", ago(a.raisedAt))))) : h("p.muted", "No active alerts."));
    } catch (e) { connectors.replaceChildren(h("p.error", String(e.message))); }
  }
  await poll();
  const timer = setInterval(poll, 2000);
  const lastEvent = await position();
  // the last 20 events at load (replayed from the store), then the live ones
  const stop = stream({}, (ev) => {
    const twin = (ev.subject || "").split("/")[0];
    const what = ev.type.replace("Microsoft.DigitalTwins.", "");
    const detail = ev.data && ev.data.patch ? ev.data.patch.map((p) => `${p.path}=${JSON.stringify(p.value)}`).join(" ") : "";
    events.prepend(h("li", h("span.muted", new Date(ev.time).toLocaleTimeString()), " ", h("b", what), " ",
      twin ? twinLink(twin) : "", " ", h("span.small", detail.slice(0, 120)),
      ev.dataschema ? h("span.muted.small", ` (${shortModel(ev.dataschema)})`) : ""));
    while (events.children.length > 50) events.lastChild.remove();
  }, (s) => { state.textContent = s; }, lastEvent == null ? null : Math.max(0, lastEvent - 20));
  return () => { clearInterval(timer); stop(); };
}
