// The factory pack's pages: /ui/line (every production line and its OEE) and /ui/line/{id}
// (the line's OEE with availability, performance and quality, its machines in flow order with
// their PackML state and OEE, the OEE over time, and the fleet's work orders). The numbers are
// what twinforge.packs.factory.monitor writes to the line's and the machines' KPI twins; the
// page follows them live.
import { addPoint, chart } from "./charts.js";
import { ApiError, api, h, listAll, position, queryAll, stream, twinLink } from "./lib.js";

const LINE = "dtmi:twinforge:factory:ProductionLine;1";
const PARTS = [["oee", "OEE"], ["availability", "availability"], ["performance", "performance"], ["quality", "quality"]];

const pct = (v) => (typeof v === "number" ? `${(100 * v).toFixed(1)} %` : "–");

function bar(value) {
  const v = typeof value === "number" ? Math.max(0, Math.min(1, value)) : 0;
  const cls = v >= 0.85 ? "ok" : v >= 0.6 ? "warning" : "critical";
  return h("span.meter", { role: "meter", "aria-valuemin": "0", "aria-valuemax": "1", "aria-valuenow": String(v) },
    h(`span.fill.${cls}`, { style: `width:${(100 * v).toFixed(1)}%` }), h("span.label", pct(value)));
}

function stateBadge(state) {
  const cls = state === "Execute" ? "ok" : state === "Suspended" ? "warning" : state ? "critical" : "muted";
  return h(`span.badge.${cls}`, state || "–");
}

export async function render(main, { rest }) {
  return rest[0] ? linePage(main, rest[0]) : overview(main);
}

async function overview(main) {
  const rows = await queryAll(`SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL('${LINE}')`);
  main.replaceChildren(h("h1", "Production lines"));
  if (!rows.length) { main.append(h("p", "No production line here: run ", h("code", "twinforge demo factory"), ".")); return null; }
  main.append(h("table#lines", h("thead", h("tr", ["line", ...PARTS.map((p) => p[1]), "bottleneck", "top loss"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", rows.map((r) => r.T).map((t) => h("tr", h("td", h("a", { href: `/ui/line/${encodeURIComponent(t.$dtId)}` }, t.$dtId)),
      ...PARTS.map(([k]) => h("td", bar(t[k]))), h("td", t.bottleneck || ""), h("td", t.topLoss || ""))))));
  return null;
}

async function linePage(main, id) {
  const enc = encodeURIComponent(id);
  let line;
  const resumeAt = await position(); // the stream replays what changed after it: nothing read is missed
  try { line = await api(`/digitaltwins/${enc}`); } catch (e) {
    main.replaceChildren(h("h1", id), h("p.error", e instanceof ApiError ? `${e.code}: ${e.message}` : String(e))); return null;
  }
  const rels = (await listAll(`/digitaltwins/${enc}/relationships?relationshipName=hasMachine`))
    .sort((a, b) => a.$relationshipId.localeCompare(b.$relationshipId, undefined, { numeric: true }));
  const machines = rels.map((r) => r.$targetId);
  const kpis = Object.fromEntries(await Promise.all(machines.map(async (m) => [m, await api(`/digitaltwins/${encodeURIComponent(m)}-kpi`).catch(() => ({}))])));
  const head = h("div.row#line-kpis", PARTS.map(([k, label]) => h("div.kpi", { "data-kpi": k }, h("div.small.muted", label), h("div.big", pct(line[k])))));
  const facts = h("p.muted#line-facts");
  const body = h("tbody");
  const chartEl = h("div.chart");
  const ordersEl = h("div");
  main.replaceChildren(h("h1", `Line ${id}`), h("p.muted", twinLink(id), ` · OEE over a rolling ${line.window || ""} window`), head, facts,
    h("section.panel", h("h2", "Machines, in flow order"), h("div.scroll", h("table#machines", h("thead", h("tr",
      ["machine", "state", ...PARTS.map((p) => p[1]), "units", "good", "micro-stops", "top loss"].map((c) => h("th", { scope: "col" }, c)))), body))),
    h("section.panel", h("h2", "Line OEE, last hour"), chartEl),
    h("section.panel", h("h2", "Work orders"), ordersEl));
  function drawFacts() {
    facts.textContent = `bottleneck ${line.bottleneck || "–"} · top loss ${line.topLoss || "none"} · ${line.goodCount ?? 0} good of ${line.totalCount ?? 0}`;
    for (const [k] of PARTS) head.querySelector(`[data-kpi="${k}"] .big`).textContent = pct(line[k]);
  }
  function drawMachines() {
    body.replaceChildren(...machines.map((m) => {
      const k = kpis[m] || {};
      return h("tr", { "data-machine": m }, h("td", twinLink(m)), h("td", stateBadge(k.state)), ...PARTS.map(([p]) => h("td", bar(k[p]))),
        h("td.num", String(k.totalCount ?? "–")), h("td.num", String(k.goodCount ?? "–")), h("td.num", String(k.microStops ?? "–")), h("td", k.topLoss || ""));
    }));
  }
  async function drawOrders() {
    const orders = await listAll("/workorders").catch(() => []);
    const open = orders.filter((o) => o.state !== "done" && o.state !== "cancelled");
    ordersEl.replaceChildren(open.length ? h("table#orders", h("thead", h("tr", ["asset", "state", "due", "why"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", open.map((o) => h("tr", h("td", twinLink(o.asset)), h("td", o.state), h("td", o.dueDate || "–"), h("td", o.description || "")))))
      : h("p.muted", "No open work orders."));
  }
  drawFacts(); drawMachines(); await drawOrders();
  const now = Date.now() / 1000;
  const from = new Date((now - 3600) * 1000).toISOString();
  const history = await api(`/digitaltwins/${enc}/history?name=oee&from=${encodeURIComponent(from)}&limit=5000`).catch(() => ({ value: [] }));
  const c = chart(chartEl, [{ name: "OEE", points: history.value, color: "#1f6feb", width: 2 }],
    { height: 220, unit: "", xmin: now - 3600, xmax: now + 60 });
  const watched = [id, ...machines.map((m) => `${m}-kpi`)];
  const stop = stream({ twin: watched }, (ev) => {
    const twin = String(ev.subject || "").split("/")[0];
    const patch = ev.data && ev.data.patch ? Object.fromEntries(ev.data.patch.map((p) => [p.path.slice(1), p.value])) : null;
    if (!patch) return;
    if (twin === id) {
      Object.assign(line, patch); drawFacts();
      if (typeof patch.oee === "number") addPoint(c.plot, Date.parse(ev.time) / 1000, 1, patch.oee);
    } else {
      const m = twin.replace(/-kpi$/, ""); kpis[m] = Object.assign(kpis[m] || {}, patch); drawMachines();
    }
  }, () => {}, resumeAt);
  const timer = setInterval(drawOrders, 10000);
  window.twinforgeLineReady = performance.now();
  return () => { stop(); clearInterval(timer); c.destroy(); };
}
