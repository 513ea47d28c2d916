// Graph explorer: /ui/graph?q=<query>&model=<dtmi>
import { GraphView } from "./graphview.js";
import { api, h, modelColor, queryAll, shortModel, showError, twinLink } from "./lib.js";
import { go } from "./app.js";

const ALL = "SELECT T FROM DIGITALTWINS T";

export function twinsOf(rows) {
  const out = [];
  for (const row of rows) for (const v of Object.values(row)) {
    if (v && typeof v === "object" && v.$dtId) out.push({ id: v.$dtId, model: v.$metadata.$model, label: v.name || v.$dtId });
  }
  return out;
}

export function linksOf(rows) {
  const out = [];
  for (const row of rows) for (const v of Object.values(row)) {
    if (v && typeof v === "object" && v.$relationshipId) out.push({ source: v.$sourceId, target: v.$targetId, name: v.$relationshipName });
  }
  return out;
}

export async function render(main, { params }) {
  const q = params.get("q") || ALL; const modelFilter = params.get("model") || "";
  const input = h("input", { type: "text", value: q, "aria-label": "Query selecting twins", style: { flex: "1", minWidth: "240px" }, class: "mono" });
  const select = h("select", { "aria-label": "Only twins of model" }, h("option", { value: "" }, "all models"));
  const status = h("span.muted.small", "loading twins…");
  const wrap = h("div.graph-wrap");
  const side = h("div.side", { hidden: true });
  const legend = h("div.legend.small.row");
  const form = h("form.row", { on: { submit: (ev) => { ev.preventDefault();
    const p = new URLSearchParams(); if (input.value.trim() && input.value.trim() !== ALL) p.set("q", input.value.trim());
    if (select.value) p.set("model", select.value); go(`/ui/graph${p.toString() ? "?" + p : ""}`); } } },
    input, select, h("button", { type: "submit" }, "Show"), status);
  main.replaceChildren(h("h1", "Graph"), form, legend, wrap);
  wrap.append(side);

  let twins;
  try { twins = twinsOf(await queryAll(q, { onPage: (n) => { status.textContent = `loading twins… ${n.toLocaleString()}`; } })); }
  catch (e) { showError(status, e); return null; }
  const models = [...new Set(twins.map((t) => t.model))].sort();
  for (const m of models) select.append(h("option", { value: m, selected: m === modelFilter }, shortModel(m)));
  if (modelFilter) twins = twins.filter((t) => t.model === modelFilter);
  status.textContent = `${twins.length.toLocaleString()} twins; loading relationships…`;
  const ids = new Set(twins.map((t) => t.id));
  const links = linksOf(await queryAll("SELECT R FROM RELATIONSHIPS R", { limit: 200000 }))
    .filter((l) => ids.has(l.source) && ids.has(l.target));
  status.textContent = `${twins.length.toLocaleString()} twins, ${links.length.toLocaleString()} relationships · click a twin; double-click opens it`;
  legend.replaceChildren(...models.slice(0, 24).map((m) => h("span.small", h("i", { style: { background: modelColor(m) } }), shortModel(m))));

  const view = new GraphView(wrap, { onPick: pick, onOpen: (n) => go(`/ui/twins/${encodeURIComponent(n.id)}`) });
  window.twinforgeGraph = view;
  view.set(twins, links);

  async function expand(node) {
    const [out, inc] = await Promise.all([
      api(`/digitaltwins/${encodeURIComponent(node.id)}/relationships`),
      api(`/digitaltwins/${encodeURIComponent(node.id)}/incomingrelationships`)]);
    const newLinks = out.value.map((r) => ({ source: r.$sourceId, target: r.$targetId, name: r.$relationshipName }))
      .concat(inc.value.map((r) => ({ source: r.$sourceId, target: node.id, name: r.$relationshipName })));
    const missing = [...new Set(newLinks.flatMap((l) => [l.source, l.target]))].filter((id) => !view.byId.has(id));
    const fetched = await Promise.all(missing.map((id) => api(`/digitaltwins/${encodeURIComponent(id)}`)));
    view.add(fetched.map((t) => ({ id: t.$dtId, model: t.$metadata.$model, label: t.name || t.$dtId })), newLinks);
    status.textContent = `${view.nodes.length.toLocaleString()} twins, ${view.links.length.toLocaleString()} relationships`;
  }

  function pick(node) {
    if (!node) { side.hidden = true; return; }
    const rels = view.links.filter((l) => l.s === node || l.t === node);
    side.hidden = false;
    side.replaceChildren(h("b", node.label), h("div.muted", shortModel(node.model)),
      h("div.row", h("a.button", { href: `/ui/twins/${encodeURIComponent(node.id)}` }, "Open twin"),
        h("button.ghost.small", { type: "button", on: { click: () => expand(node) } }, "Expand neighbours")),
      h("ul", rels.slice(0, 30).map((l) => h("li", l.s === node ? ["→ ", l.name, " ", twinLink(l.t.id)] : ["← ", l.name, " ", twinLink(l.s.id)]))));
  }
  return () => view.destroy();
}
