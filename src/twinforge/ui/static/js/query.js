// Query console: /ui/query?q=... — results as a table (and a graph for twins/relationships),
// errors shown at their position, paging with continuation tokens.
import { GraphView } from "./graphview.js";
import { linksOf, twinsOf } from "./graph.js";
import { ApiError, api, fmt, h, twinLink } from "./lib.js";
import { go } from "./app.js";

const EXAMPLES = ["SELECT T FROM DIGITALTWINS T", "SELECT T.$dtId, T.name FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:digitaltwins:rec_3_3:core:Room;1')",
  "SELECT COUNT() FROM DIGITALTWINS", "SELECT R FROM RELATIONSHIPS R WHERE R.$relationshipName = 'isPartOf'"];

export async function render(main, { params }) {
  const q = params.get("q") || "";
  const editor = h("textarea.code", { "aria-label": "Query", spellcheck: "false", placeholder: EXAMPLES[0] }, q);
  const out = h("div"); const info = h("span.muted.small");
  const run = h("button", { type: "submit" }, "Run");
  const form = h("form", { on: { submit: (ev) => { ev.preventDefault(); const text = editor.value.trim();
    if (!text) return; go(`/ui/query?q=${encodeURIComponent(text)}`); } } },
  editor, h("div.row", run, h("span.muted.small", "Ctrl+Enter runs"), info,
    h("select", { "aria-label": "Examples", on: { change: (ev) => { if (ev.target.value) { editor.value = ev.target.value; editor.focus(); } } } },
      h("option", { value: "" }, "examples…"), EXAMPLES.map((e) => h("option", { value: e }, e)))));
  editor.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); } });
  main.replaceChildren(h("h1", "Query"), form, out);
  editor.focus();
  if (!q) return null;

  let graph = null; const pages = []; let token = null; let mode = "table";
  async function page(continuationToken) {
    const t0 = performance.now();
    try {
      const res = await api("/query", { method: "POST", body: continuationToken ? { query: q, continuationToken } : { query: q },
        headers: { "max-items-per-page": "100" } });
      pages.push(res.value); token = res.continuationToken;
      info.textContent = `${pages.flat().length.toLocaleString()} rows${token ? " so far" : ""} · ${(performance.now() - t0).toFixed(0)} ms`;
      show();
    } catch (e) { showQueryError(out, q, e); }
  }
  function show() {
    const rows = pages[pages.length - 1] || [];
    const all = pages.flat();
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const twins = twinsOf(all); const links = linksOf(all);
    const tabs = twins.length ? h("div.row", ["table", "graph"].map((m) => h("button.small" + (m === mode ? "" : ".ghost"), { type: "button",
      "aria-pressed": m === mode, on: { click: () => { mode = m; show(); } } }, m))) : null;
    const more = token ? h("button.ghost.small", { type: "button", on: { click: () => page(token) } }, "Next page") : null;
    const prevInfo = h("span.muted.small", `page ${pages.length}`);
    if (graph) { graph.destroy(); graph = null; }
    if (mode === "graph" && twins.length) {
      const wrap = h("div.graph-wrap", { style: { height: "480px" } });
      out.replaceChildren(tabs, wrap, h("div.row", prevInfo, more));
      graph = new GraphView(wrap, { onOpen: (n) => go(`/ui/twins/${encodeURIComponent(n.id)}`) });
      graph.set(twins, links);
      return;
    }
    const cellOf = (r, c) => {
      const v = r[c];
      if (v && typeof v === "object" && v.$dtId) return h("span", twinLink(v.$dtId), h("div.small.mono", JSON.stringify(v).slice(0, 300)));
      if (c === "$dtId" && typeof v === "string") return twinLink(v);
      return fmt(v);
    };
    out.replaceChildren(tabs || "", h("div.scroll", h("table.results", h("thead", h("tr", cols.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", rows.map((r) => h("tr", cols.map((c) => h(typeof r[c] === "number" ? "td.num" : "td", cellOf(r, c)))))))),
    rows.length ? "" : h("p.muted", "No rows."), h("div.row", prevInfo, more));
  }
  await page(null);
  return () => { if (graph) graph.destroy(); };
}

export function showQueryError(out, q, e) {
  const message = e instanceof ApiError ? e.message : String(e.message || e);
  const m = message.match(/at position (\d+)/);
  const parts = [h("p.error", { role: "alert" }, e instanceof ApiError ? `${e.code}: ${message}` : message)];
  if (m) {
    const at = Math.min(Number(m[1]), q.length);
    parts.push(h("pre.query-error", q.slice(0, at), h("span.caret", "▸"), h("mark", q.slice(at, at + 1) || " "), q.slice(at + 1)));
  }
  out.replaceChildren(...parts);
}
