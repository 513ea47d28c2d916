// Twin page: /ui/twins/{id} — properties and components with $metadata times (live), relationships,
// history charts with forecast, anomaly scores and RUL, and editing with the twin's ETag.
import { addPoint, chart } from "./charts.js";
import { ApiError, ago, api, contentsOf, fmt, h, isNumericSchema, kindOf, position, shortModel, stream, twinLink, unitOf } from "./lib.js";

// A component's values, or a word when it has none ({"$metadata": {}} said nothing to a reader).
function componentValues(value) {
  const shown = Object.fromEntries(Object.entries(value || {}).filter(([k]) => !k.startsWith("$")));
  return Object.keys(shown).length ? h("pre", JSON.stringify(shown, null, 2)) : h("p.muted.small", "no values set");
}

const RANGES = { PT1H: 3600, PT6H: 21600, P1D: 86400, P7D: 604800, all: 0 };
const PRIMITIVE = ["boolean", "date", "dateTime", "double", "duration", "float", "integer", "long", "string", "time"];

export async function render(main, { rest, params }) {
  const id = rest[0];
  if (!id) { main.replaceChildren(h("h1", "Twin"), h("p", "Open a twin from the graph or a query.")); return null; }
  const enc = encodeURIComponent(id);
  let twin, etag;
  async function load() {
    const res = await api(`/digitaltwins/${enc}`, { raw: true });
    etag = res.headers.get("ETag"); twin = await res.json(); twin.$etag = twin.$etag || etag; etag = twin.$etag;
  }
  const since = await position(); // events after it are replayed: nothing is missed before the subscription
  try { await load(); } catch (e) {
    main.replaceChildren(h("h1", id), h("p.error", e instanceof ApiError ? `${e.code}: ${e.message}` : String(e))); return null;
  }
  const modelId = twin.$metadata.$model;
  const contents = await contentsOf(modelId).catch(() => []);
  const byName = new Map(contents.map((c) => [c.content.name, c]));
  const propsEl = h("div"); const relsEl = h("div.grid2"); const chartsEl = h("div"); const rulEl = h("div");
  const liveEl = h("span.muted.small", "connecting…"); const msgEl = h("div", { role: "status" });
  const range = h("select", { "aria-label": "Time range" }, Object.keys(RANGES).map((r) => h("option", { value: r, selected: r === (params.get("range") || "P1D") }, r === "all" ? "all time" : `last ${r.replace(/^PT?/, "")}`)));
  const bucket = h("select", { "aria-label": "Bucket" }, ["raw", "10s", "1m", "5m", "1h"].map((b) => h("option", { value: b, selected: b === (params.get("bucket") || "raw") }, b === "raw" ? "raw points" : `bucket ${b}`)));
  const agg = h("select", { "aria-label": "Aggregate" }, ["avg", "min", "max", "last", "count"].map((a) => h("option", { value: a, selected: a === (params.get("agg") || "avg") }, a)));
  main.replaceChildren(
    h("h1", id), h("p.muted", h("a", { href: `/ui/models/${encodeURIComponent(modelId)}` }, modelId), " · ",
      h("span", { id: "etag" }, etag), " · ", liveEl),
    msgEl,
    h("section.panel", h("h2", "Properties"), propsEl),
    h("section.panel", h("h2", "Relationships"), relsEl),
    rulEl,
    h("section.panel", h("h2", "History"), h("div.row", range, bucket, agg,
      h("button.ghost.small", { type: "button", on: { click: () => drawCharts(true).catch((e) => msgEl.replaceChildren(h("p.error", e.message))) } }, "Forecast")), chartsEl));

  let editing = null;
  function drawProps() {
    const md = twin.$metadata || {};
    const rows = [];
    const names = new Set([...contents.filter((c) => kindOf(c.content) === "Property").map((c) => c.content.name),
      ...Object.keys(twin).filter((k) => !k.startsWith("$"))]);
    for (const name of [...names].sort()) {
      const c = byName.get(name); const value = twin[name];
      const isComp = c && kindOf(c.content) === "Component";
      if (isComp) continue;
      const writable = c && c.content.writable && PRIMITIVE.includes(typeof c.content.schema === "string" ? c.content.schema : "");
      const unit = unitOf(c);
      const cell = editing === name ? editor(name, c.content.schema, value) :
        h("span.nowrap", h("span", { "data-prop": name }, fmt(value)), unit ? h("span.muted.small", ` ${unit}`) : "");
      rows.push(h("tr", h("th", { scope: "row" }, name, c && c.from !== modelId ? h("span.muted.small", ` (from ${shortModel(c.from)})`) : ""),
        h(typeof value === "number" ? "td.num" : "td", cell),
        h("td.small.muted", md[name] ? ago(md[name].lastUpdateTime) : ""),
        h("td", writable && editing !== name ? h("button.ghost.small", { type: "button", "aria-label": `Edit ${name}`, on: { click: () => { editing = name; editEtag = etag; drawProps(); } } }, "Edit") : "")));
    }
    const comps = contents.filter((c) => kindOf(c.content) === "Component");
    propsEl.replaceChildren(h("div.scroll", h("table", h("thead", h("tr", h("th", "name"), h("th", "value"), h("th", "updated"), h("th", ""))), h("tbody", rows))),
      ...comps.map((c) => h("div", h("h3", `Component ${c.content.name}`, h("span.muted.small", ` ${typeof c.content.schema === "string" ? shortModel(c.content.schema) : ""}`)),
        componentValues(twin[c.content.name]))));
    const input = propsEl.querySelector("input, select"); if (input) input.focus();
  }
  let editEtag = null;
  function editor(name, schema, value) {
    const input = schema === "boolean" ? h("select", { "aria-label": name }, h("option", { value: "true", selected: value === true }, "true"), h("option", { value: "false", selected: value === false }, "false"))
      : h("input", { type: "text", value: value === undefined ? "" : String(value), "aria-label": name, size: 14 });
    const save = async (ev) => {
      ev.preventDefault();
      let v = input.value;
      if (["double", "float"].includes(schema)) v = Number(v);
      else if (["integer", "long"].includes(schema)) v = Number.parseInt(v, 10);
      else if (schema === "boolean") v = v === "true";
      if (typeof v === "number" && !Number.isFinite(v)) { msgEl.replaceChildren(h("p.error", `${name}: not a number`)); return; }
      try {
        await api(`/digitaltwins/${enc}`, { method: "PATCH", headers: { "If-Match": editEtag },
          body: [{ op: name in twin ? "replace" : "add", path: `/${name}`, value: v }] });
        msgEl.replaceChildren(h("p.ok", `Saved ${name} = ${fmt(v)}.`));
        editing = null; await refresh();
      } catch (e) {
        if (e.status === 412) msgEl.replaceChildren(h("p.error", `Not saved: the twin changed after you started editing (412 Precondition Failed, your ETag ${editEtag}). The page shows the current values; edit again to apply yours.`));
        else msgEl.replaceChildren(h("p.error", `Not saved: ${e.code}: ${e.message}`));
        editing = null; await refresh();
      }
    };
    return h("form.row", { on: { submit: save } }, input, h("button.small", { type: "submit" }, "Save"),
      h("button.ghost.small", { type: "button", on: { click: () => { editing = null; drawProps(); } } }, "Cancel"));
  }

  async function refresh() { await load(); document.getElementById("etag").textContent = etag; if (!editing) drawProps(); }
  drawProps();

  const [out, inc] = await Promise.all([api(`/digitaltwins/${enc}/relationships`), api(`/digitaltwins/${enc}/incomingrelationships`)]);
  relsEl.replaceChildren(
    h("div", h("h3", `Outgoing (${out.value.length})`), h("ul", out.value.map((r) => h("li", r.$relationshipName, " → ", twinLink(r.$targetId))))),
    h("div", h("h3", `Incoming (${inc.value.length})`), h("ul", inc.value.map((r) => h("li", twinLink(r.$sourceId), " → ", r.$relationshipName)))));

  // numeric properties and telemetry of the model, and numbers the twin holds
  const numeric = contents.filter((c) => ["Property", "Telemetry"].includes(kindOf(c.content)) && isNumericSchema(c.content.schema)).map((c) => c.content.name);
  for (const [k, v] of Object.entries(twin)) if (!k.startsWith("$") && typeof v === "number" && !numeric.includes(k)) numeric.push(k);
  const detectors = await api("/analytics/detectors").then((d) => d.value).catch(() => []);
  let charts = [];
  window.twinforgeCharts = () => charts;  // set before the first chart is drawn: tests and tools read it once one shows
  async function historyOf(name, from) {
    const q = new URLSearchParams({ name });
    if (from) q.set("from", new Date(from * 1000).toISOString());
    if (bucket.value !== "raw") { q.set("bucket", bucket.value); q.set("agg", agg.value); }
    const points = []; let next = `/digitaltwins/${enc}/history?${q}`;
    while (next && points.length < 20000) { const page = await api(next); points.push(...page.value); next = page.nextLink; }
    return points;
  }
  let drawing = 0;  // a newer draw (the range or bucket changed meanwhile) makes an older one stop
  async function drawCharts(withForecast = false) {
    const mine = ++drawing;
    for (const c of charts) c.destroy(); charts = [];
    const span = RANGES[range.value]; const from = span ? Date.now() / 1000 - span : null;
    const boxes = [];
    for (const name of numeric.slice(0, 12)) {
      const points = await historyOf(name, from);
      if (mine !== drawing) return;
      const unit = unitOf(byName.get(name));
      const box = h("div.chart", h("h3", name, unit ? h("span.muted.small", ` (${unit})`) : "")); boxes.push(box);
      if (!points.length) { box.append(h("p.muted.small", "no history")); continue; }
      const series = [{ name, points }];
      for (const d of detectors.filter((d) => d.name === name)) {
        const scores = await historyOf(`${name}:anomaly:${d.id}`, from).catch(() => []);
        if (scores.length) series.push({ name: `anomaly ${d.id}`, points: scores, axis: "y2", width: 1, color: "#e67e22" });
      }
      const spread = points.length > 1 ? (Date.parse(points.at(-1).time) - Date.parse(points[0].time)) / 1000 : 0;
      if (withForecast && (points.length < 8 || spread < 120)) {
        box.append(h("p.muted.small", `no forecast: ${points.length} point(s) over ${Math.round(spread)} s of history is too little`));
      } else if (withForecast) {
        try {
          // as far ahead as the history shown goes back (at most an hour), in about 60 steps
          const xs = points.map((p) => Date.parse(p.time) / 1000);
          const span = Math.max(0, Math.max(...xs) - Math.min(...xs));
          const horizon = Math.max(60, Math.min(3600, Math.floor(span / 2)));
          const step = Math.max(1, Math.floor(horizon / 60));
          const f = await api(`/digitaltwins/${enc}/forecast?name=${encodeURIComponent(name)}&horizon=PT${horizon}S&step=PT${step}S`);
          const lo = series.length;
          series.push({ name: `forecast low`, points: f.value.map((p) => ({ time: p.time, value: p.low })), dash: [4, 4], width: 1, color: "#7aa7f5" });
          series.push({ name: `forecast high`, points: f.value.map((p) => ({ time: p.time, value: p.high })), dash: [4, 4], width: 1, color: "#7aa7f5", bandWith: lo });
          series.push({ name: `forecast (${f.model})`, points: f.value, dash: [6, 3], color: "#1f6feb" });
        } catch (e) { box.append(h("p.muted.small", `no forecast: ${e.message}`)); }
      }
      if (mine !== drawing) return;
      chartsEl.replaceChildren(...boxes);
      charts.push(Object.assign(chart(box, series, { xmin: from ?? undefined, xmax: Date.now() / 1000, unit }), { name }));
    }
    if (mine !== drawing) return;
    chartsEl.replaceChildren(...boxes);
    if (!numeric.length) chartsEl.replaceChildren(h("p.muted", "This twin has no numeric properties or telemetry."));
  }
  const redraw = () => drawCharts().catch((e) => chartsEl.replaceChildren(h("p.error", `${e.code || "error"}: ${e.message}`)));
  for (const s of [range, bucket, agg]) s.addEventListener("change", redraw);
  await drawCharts();

  const rulPoints = await historyOf("rul", null);
  if (rulPoints.length) try {
    const rul = await api(`/digitaltwins/${enc}/rul`);
    const pts = [rulPoints, ...await Promise.all(["rul:low", "rul:high"].map((n) => historyOf(n, null)))];
    const box = h("div.chart");
    rulEl.replaceChildren(h("section.panel", h("h2", "Remaining useful life"),
      h("p", h("b", fmt(rul.rul)), ` cycles (interval ${fmt(rul.low)} – ${fmt(rul.high)}), model ${rul.model || ""}`), box));
    if (pts[0].length) charts.push(chart(box, [{ name: "rul", points: pts[0] }, { name: "low", points: pts[1], dash: [3, 3], width: 1 },
      { name: "high", points: pts[2], dash: [3, 3], width: 1, bandWith: 1 }]));
  } catch (_) { /* no RUL model attached */ }

  let timer = 0;
  const stop = stream({ twin: id }, (ev) => {
    const live = bucket.value === "raw" && ev.data;
    const updates = ev.data && ev.data.patch ? ev.data.patch.filter((p) => typeof p.value === "number").map((p) => [p.path.slice(1), p.value])
      : ev.type.toLowerCase().endsWith("telemetry") && ev.data ? Object.entries(ev.data).filter(([, v]) => typeof v === "number") : [];
    if (live) for (const [name, value] of updates) {
      const c = charts.find((x) => x.name === name); if (!c) continue;
      addPoint(c.plot, Date.parse(ev.time) / 1000, 1, value);  // in time order, before any forecast
    }
    clearTimeout(timer); timer = setTimeout(refresh, 50);
  }, (s) => { liveEl.textContent = s === "live" ? "live" : s; }, since);
  window.twinforgeTwinReady = performance.now();
  return () => { stop(); clearTimeout(timer); for (const c of charts) c.destroy(); };
}
