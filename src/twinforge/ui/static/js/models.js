// Models: /ui/models (extends tree, upload) and /ui/models/{dtmi} (contents, inherited marked, source).
import { ApiError, api, contentsOf, fmt, h, listAll, model, shortModel } from "./lib.js";

export async function render(main, { rest }) {
  if (rest[0]) return detail(main, rest[0]);
  const results = h("div", { role: "status" });
  const files = h("input", { type: "file", multiple: true, accept: ".json", "aria-label": "DTDL files" });
  const folder = h("input", { type: "file", multiple: true, webkitdirectory: true, "aria-label": "A folder of DTDL files" });
  const drop = h("div.drop", { tabindex: "0" }, h("p", "Drop DTDL files or a folder here, or choose: "),
    h("div.row", { style: { justifyContent: "center" } }, h("label", "files ", files), h("label", "folder ", folder)));
  const treeEl = h("div.tree"); const filter = h("input", { type: "search", placeholder: "filter models", "aria-label": "Filter models" });
  main.replaceChildren(h("h1", "Models"), h("section.panel", h("h2", "Upload DTDL v2/v3/v4"), drop, results),
    h("section.panel", h("h2", "Models by extends"), h("div.row", filter), treeEl));

  async function upload(list) {
    if (!list.length) return;
    results.replaceChildren(h("p.muted", `reading ${list.length} files…`));
    const batch = []; const origin = []; const errors = [];
    for (const file of list) {
      if (!/\.json$/i.test(file.name)) continue;
      const name = file.webkitRelativePath || file.relativePath || file.name;
      let doc;
      try { doc = JSON.parse(await file.text()); } catch (e) { errors.push(`${name}: not JSON: ${e.message}`); continue; }
      const docs = Array.isArray(doc) ? doc : [doc];
      docs.forEach((d, i) => { batch.push(d); origin.push(Array.isArray(doc) ? `${name} $[${i}]` : name); });
    }
    if (errors.length) { results.replaceChildren(h("p.error", "Nothing uploaded:"), h("ul.error", errors.map((e) => h("li", e)))); return; }
    if (!batch.length) { results.replaceChildren(h("p.error", "No .json files in what was dropped.")); return; }
    try {
      const made = await api("/models", { method: "POST", body: batch });
      results.replaceChildren(h("p.ok", `Uploaded ${made.length} models from ${list.length} files.`),
        h("ul", made.map((m) => h("li", h("a", { href: `/ui/models/${encodeURIComponent(m.id)}` }, m.id)))));
      await drawTree();
    } catch (e) {
      // "$[N]..." in the server's messages is the position in the batch: name the file instead
      const lines = (e instanceof ApiError ? e.message : String(e)).split("\n").map((line) =>
        line.replace(/\$\[(\d+)\]/g, (all, n) => (origin[Number(n)] ? `${origin[Number(n)]}${origin[Number(n)].includes("$[") ? "" : " $"}` : all)));
      results.replaceChildren(h("p.error", `Nothing uploaded (${e.code || "error"}):`), h("ul.error", lines.map((l) => h("li", l))));
    }
  }
  for (const input of [files, folder]) input.addEventListener("change", () => upload([...input.files]));
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (ev) => {
    ev.preventDefault(); drop.classList.remove("over");
    const out = []; const entries = [...ev.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    async function walk(entry, prefix) {
      if (entry.isFile) { const f = await new Promise((ok, bad) => entry.file(ok, bad)); f.relativePath = prefix + f.name; out.push(f); return; }
      const reader = entry.createReader();
      for (;;) { const batch = await new Promise((ok, bad) => reader.readEntries(ok, bad)); if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`); }
    }
    if (entries.length) for (const e of entries) await walk(e, ""); else out.push(...ev.dataTransfer.files);
    upload(out);
  });

  async function drawTree() {
    const models = await listAll("/models?includeModelDefinition=true");
    const children = new Map(); const ids = new Set(models.map((m) => m.id)); const roots = [];
    for (const m of models) {
      const ext = m.model && m.model.extends ? [].concat(m.model.extends).filter((e) => typeof e === "string" && ids.has(e)) : [];
      if (!ext.length) roots.push(m.id);
      for (const e of ext) { if (!children.has(e)) children.set(e, []); children.get(e).push(m.id); }
    }
    const label = new Map(models.map((m) => [m.id, m.displayName && (m.displayName.en || Object.values(m.displayName)[0])]));
    const needle = filter.value.trim().toLowerCase();
    const shown = (id) => !needle || id.toLowerCase().includes(needle) || (children.get(id) || []).some(shown);
    // Subtrees and namespaces fold (767 RealEstateCore models were one 18,000 px tree); a filter
    // opens what matches.
    const link = (id) => [h("a", { href: `/ui/models/${encodeURIComponent(id)}` }, id),
      label.get(id) ? h("span.muted.small", ` ${label.get(id)}`) : ""];
    const count = (id) => (children.get(id) || []).reduce((n, c) => n + 1 + count(c), 0);
    const node = (id, depth) => {
      if (!shown(id)) return "";
      if (!children.has(id) || depth >= 20) return h("li", link(id));
      return h("li", h("details", { open: Boolean(needle) }, h("summary", link(id), h("span.muted.small", ` (${count(id)} below)`)),
        h("ul", children.get(id).sort().map((c) => node(c, depth + 1)))));
    };
    const spaces = new Map();
    for (const r of roots.sort()) { if (!shown(r)) continue; const ns = r.replace(/;\d+$/, "").split(":").slice(0, -1).join(":");
      if (!spaces.has(ns)) spaces.set(ns, []); spaces.get(ns).push(r); }
    const openAll = Boolean(needle) || spaces.size === 1;
    treeEl.replaceChildren(h("p.muted.small", `${models.length} models`, needle ? ` (filtered by "${needle}")` : ""),
      ...[...spaces].map(([ns, ids]) => h("details.ns", { open: openAll }, h("summary", h("b", ns || "(no namespace)"),
        h("span.muted.small", ` ${ids.reduce((n, id) => n + 1 + count(id), 0)} models`)), h("ul", ids.map((r) => node(r, 0))))));
  }
  filter.addEventListener("input", () => drawTree());
  await drawTree();
  return null;
}

async function detail(main, id) {
  let info;
  try { info = await model(id); } catch (e) { main.replaceChildren(h("h1", id), h("p.error", `${e.code}: ${e.message}`)); return null; }
  const contents = await contentsOf(id);
  const def = info.model || {};
  const ext = def.extends ? [].concat(def.extends).filter((e) => typeof e === "string") : [];
  main.replaceChildren(h("h1", id),
    h("p", info.displayName ? fmt(info.displayName.en || Object.values(info.displayName)[0]) : "",
      info.decommissioned ? h("span.badge.warning", " decommissioned") : "", " ",
      ext.length ? ["extends ", ext.map((e) => h("a", { href: `/ui/models/${encodeURIComponent(e)}` }, shortModel(e), " "))] : "",
      h("a", { href: `/ui/query?q=${encodeURIComponent(`SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '${id}')`)}` }, "twins of this model")),
    h("section.panel", h("h2", `Contents (${contents.length})`), h("div.scroll", h("table",
      h("thead", h("tr", ["name", "kind", "schema / target", "writable", "defined in"].map((c) => h("th", c)))),
      h("tbody", contents.map(({ content: c, from }) => h("tr", { class: from === id ? "" : "inherited" },
        h("td", c.name), h("td", [].concat(c["@type"]).join(", ")),
        h("td.mono.small", typeof c.schema === "string" ? c.schema : c.schema ? JSON.stringify(c.schema).slice(0, 120) : (c.target || "")),
        h("td", c.writable ? "yes" : ""),
        h("td.small", from === id ? "this model" : h("span", "inherited from ", h("a", { href: `/ui/models/${encodeURIComponent(from)}` }, shortModel(from)))))))))),
    h("section.panel", h("h2", "DTDL source"), h("pre", JSON.stringify(def, null, 2))));
  return null;
}
