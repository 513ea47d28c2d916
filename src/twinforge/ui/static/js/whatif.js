// What-ifs on the city's twins: /ui/whatif. SUMO on a fork of a road network, a power flow on a
// fork of a grid; the baseline and the changed run side by side. ?example=close-street or
// ?example=n-1-feeder-2 fills in one of the two examples.
import { ApiError, api, h, table } from "./lib.js";

const EXAMPLES = {
  "close-street": {
    kind: "traffic", title: "Close this street at rush hour",
    text: "Both directions of the street between junctions B1 and C1 closed, with half as much traffic again as usual.",
    body: { closedLanes: ["B1C1_0", "B1C1_1", "C1B1_0", "C1B1_1"], demandScale: 1.5, end: 900 },
  },
  "n-1-feeder-2": {
    kind: "grid", title: "N-1 on feeder 2",
    text: "Each line and the transformer of CIGRE MV's second feeder out in turn.",
    body: { nMinus1Of: ["line 10", "line 11", "trafo 1"] },
  },
};

function kpiTable(result) {
  const rows = Object.keys(result.baseline).map((k) => ({ kpi: k, baseline: result.baseline[k],
    scenario: result.scenario[k], change: result.delta ? result.delta[k] : undefined }));
  return table(["kpi", "baseline", "scenario", "change"], rows);
}

function panel(kind, networks, example) {
  const ids = kind === "traffic" ? networks.roads : networks.grids;
  const pick = h("select", { "aria-label": kind === "traffic" ? "Road network" : "Grid" },
    ids.map((id) => h("option", { value: id }, id)));
  const start = example && example.kind === kind ? example.body
    : kind === "traffic" ? { closedLanes: [], demandScale: 1.2, end: 900 } : { loadGrowth: 1.2, nMinus1: false };
  const doc = h("textarea.code", { rows: 6, spellcheck: "false", "aria-label": `${kind} change (JSON)` }, JSON.stringify(start, null, 2));
  const out = h("div", { role: "status" });
  const button = h("button", { type: "submit", disabled: !ids.length }, "Run what-if");
  const form = h("form", { on: { submit: async (ev) => {
    ev.preventDefault();
    let body;
    try { body = JSON.parse(doc.value); } catch (e) { out.replaceChildren(h("p.error", `not JSON: ${e.message}`)); return; }
    button.disabled = true;
    out.replaceChildren(h("p.muted", kind === "traffic" ? "running SUMO twice (baseline and changed)…" : "running the power flows…"));
    const t0 = performance.now();
    try {
      const result = await api(`/city/${kind === "traffic" ? "traffic" : "grid"}/${encodeURIComponent(pick.value)}/whatif`, { method: "POST", body });
      const parts = [h("p.small.muted", `done in ${((performance.now() - t0) / 1000).toFixed(1)} s`), kpiTable(result)];
      if (result.contingencies && result.contingencies.length) {
        parts.push(h("h3", "Contingencies"), table(["element", "converged", "maxLoadingPercent", "voltageViolations", "lossesMw"], result.contingencies));
      }
      if (result.overloaded && result.overloaded.length) parts.push(h("h3", "Overloaded"), table(Object.keys(result.overloaded[0]), result.overloaded));
      out.replaceChildren(...parts);
    } catch (e) {
      out.replaceChildren(h("p.error", e instanceof ApiError ? `${e.code}: ${e.message}` : String(e)));
    } finally { button.disabled = !ids.length; }
  } } }, h("div.row", pick, button), doc);
  const title = kind === "traffic" ? "Traffic (SUMO)" : "Power grid (pandapower)";
  const none = ids.length ? null : h("p.muted", kind === "traffic" ? "No road network here: twinforge demo city, or traffic.import_network."
    : "No grid here: twinforge demo city, or grid.import_network.");
  return h("section.panel", h("h2", title), example && example.kind === kind ? h("p", h("b", example.title), ": ", example.text) : null, none, form, out);
}

export async function render(main, { params }) {
  const example = EXAMPLES[params.get("example")] || null;
  main.replaceChildren(h("h1", "What-ifs"), h("p.muted", "Loading…"));
  const networks = await api("/city/networks");
  main.replaceChildren(h("h1", "What-ifs"),
    h("p", "Examples: ", h("a", { href: "/ui/whatif?example=close-street" }, EXAMPLES["close-street"].title), " · ",
      h("a", { href: "/ui/whatif?example=n-1-feeder-2" }, EXAMPLES["n-1-feeder-2"].title),
      h("span.muted.small", " — each runs on a fork; the live twins are not touched.")),
    h("div.grid2", panel("traffic", networks, example), panel("grid", networks, example)));
  return null;
}

