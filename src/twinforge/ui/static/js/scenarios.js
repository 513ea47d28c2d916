// Scenarios: /ui/scenarios (list, create) and /ui/scenarios/{id} (run with progress, KPIs,
// baseline and variant charts).
import { chart } from "./charts.js";
import { ApiError, api, fmt, h, listAll, position, stream, table } from "./lib.js";
import { go } from "./app.js";

const EXAMPLE = {
  id: "warmer-office", scope: "SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:twinforge:sim:ThermalZone;1')",
  horizon: "PT24H", step: "PT1M",
  overrides: [{ twin: "zone-1", property: "heaterPower", value: 2000 }],
  kpis: [{ name: "final temperature", twin: "zone-1", property: "temperature", agg: "last" }],
};

export async function render(main, { rest }) {
  if (rest[0]) return detail(main, rest[0]);
  const list = h("div"); const msg = h("div", { role: "status" });
  const doc = h("textarea.code", { "aria-label": "Scenario document (JSON or YAML)", rows: 14, spellcheck: "false" }, JSON.stringify(EXAMPLE, null, 2));
  const form = h("form", { on: { submit: async (ev) => {
    ev.preventDefault();
    const text = doc.value.trim(); const isJson = text.startsWith("{");
    try {
      const made = await api("/scenarios", { method: "POST", body: text, headers: { "Content-Type": isJson ? "application/json" : "application/yaml" } });
      go(`/ui/scenarios/${encodeURIComponent(made.id)}`);
    } catch (e) { msg.replaceChildren(h("p.error", e instanceof ApiError ? `${e.code}: ${e.message}` : String(e))); }
  } } }, doc, h("div.row", h("button", { type: "submit" }, "Create scenario"), h("span.muted.small", "see docs/simulation.md for the document")));
  main.replaceChildren(h("h1", "Scenarios"), h("section.panel", h("h2", "Scenarios on this server"), list),
    h("section.panel", h("h2", "New scenario"), form, msg));
  const all = await listAll("/scenarios");
  list.replaceChildren(all.length ? table(["id", "status", "progress", "created"], all, (r, c) =>
    c === "id" ? h("a", { href: `/ui/scenarios/${encodeURIComponent(r.id)}` }, r.id) : c === "progress" ? `${Math.round(r.progress * 100)} %` : fmt(r[c]))
    : h("p.muted", "None yet."));
  return null;
}

async function detail(main, id) {
  const enc = encodeURIComponent(id);
  const bar = h("div.progress", { role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 }, h("div"));
  const state = h("span"); const results = h("div"); const charts = h("div"); const msg = h("div", { role: "status" });
  const runButton = h("button", { type: "button", on: { click: run } }, "Run");
  main.replaceChildren(h("h1", `Scenario ${id}`), h("div.row", runButton, bar, state,
    h("button.ghost.small", { type: "button", on: { click: async () => { await api(`/scenarios/${enc}`, { method: "DELETE" }); go("/ui/scenarios"); } } }, "Delete")),
  msg, h("section.panel", h("h2", "KPIs"), results), h("section.panel", h("h2", "Baseline and variant"), charts));
  let entry; let drawn = []; let poller = 0;
  async function refresh() {
    try { entry = await api(`/scenarios/${enc}`); } catch (e) { msg.replaceChildren(h("p.error", `${e.code}: ${e.message}`)); return; }
    const pct = Math.round(entry.progress * 100);
    bar.firstChild.style.width = `${pct}%`; bar.setAttribute("aria-valuenow", pct);
    state.textContent = `${entry.status} · ${pct} %${entry.error ? ` · ${entry.error}` : ""}`;
    runButton.disabled = entry.status === "running";
    if (entry.status === "running") { clearTimeout(poller); poller = setTimeout(refresh, 500); }
    if (entry.status === "done" && !drawn.length) await show();
  }
  async function run() {
    try { await api(`/scenarios/${enc}/run`, { method: "POST" }); drawn.forEach((c) => c.destroy()); drawn = []; await refresh(); }
    catch (e) { msg.replaceChildren(h("p.error", `${e.code}: ${e.message}`)); }
  }
  async function show() {
    const r = await api(`/scenarios/${enc}/results`);
    const rows = Object.keys(r.kpis).map((k) => ({ kpi: k, baseline: r.baseline.kpis[k], variant: r.kpis[k], delta: r.deltas[k] }));
    results.replaceChildren(table(["kpi", "baseline", "variant", "delta"], rows),
      h("p.muted.small", `${r.twins} twins, ${r.steps} steps; wall ${r.wallSeconds.baseline} s + ${r.wallSeconds.variant} s`));
    const seen = new Set(); const boxes = [];
    for (const k of entry.scenario.kpis || []) {
      const key = `${k.twin}|${k.property}`; if (seen.has(key)) continue; seen.add(key);
      const box = h("div.chart", h("h3", `${k.twin} · ${k.property}`)); boxes.push(box); charts.append(box);
      const q = `twin=${encodeURIComponent(k.twin)}&name=${encodeURIComponent(k.property)}`;
      const [base, variant] = await Promise.all(["baseline", "variant"].map((run) => listAll(`/scenarios/${enc}/history?${q}&run=${run}`)));
      drawn.push(chart(box, [{ name: "baseline", points: base, dash: [5, 4] }, { name: "variant", points: variant }]));
    }
    if (!boxes.length) charts.replaceChildren(h("p.muted", "The scenario has no KPIs to chart."));
  }
  const resumeAt = await position(); // the stream replays what changed after it: nothing read is missed
  await refresh();
  const stop = stream({ type: "Scenario.Progress" }, (ev) => { if ((ev.subject || "") === id || (ev.data && ev.data.id === id)) refresh(); }, () => {}, resumeAt);
  return () => { clearTimeout(poller); stop(); drawn.forEach((c) => c.destroy()); };
}
