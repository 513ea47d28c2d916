// Shared helpers: the REST client, the event stream reader, DOM building, formatting.

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export function token() { return localStorage.getItem("twinforge.token") || ""; }

function headers(extra = {}) {
  const out = { ...extra };
  if (token()) out.Authorization = `Bearer ${token()}`;
  return out;
}

// Calls the public REST API; JSON in and out; an error answer becomes an ApiError.
export async function api(path, { method = "GET", body, headers: extra = {}, raw = false, signal } = {}) {
  const init = { method, headers: headers(extra), signal };
  if (body !== undefined) {
    if (body instanceof ArrayBuffer || body instanceof Blob || typeof body === "string") init.body = body;
    else { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    let code = String(res.status), message = res.statusText;
    try { const e = (await res.json()).error; code = e.code; message = e.message;
      if (e.details && e.details.length > 1) message = e.details.map((d) => d.message).join("\n"); } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, code, message);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// Every row of a query, following continuation tokens (up to `limit` rows).
export async function queryAll(query, { limit = 50000, onPage } = {}) {
  const rows = []; let continuationToken = null;
  do {
    const body = continuationToken ? { query, continuationToken } : { query };
    const page = await api("/query", { method: "POST", body, headers: { "max-items-per-page": "5000" } });
    rows.push(...page.value); continuationToken = page.continuationToken;
    if (onPage) onPage(rows.length);
  } while (continuationToken && rows.length < limit);
  return rows;
}

// Follows `nextLink` of a list answer.
export async function listAll(path) {
  const out = []; let next = path;
  while (next) { const page = await api(next); out.push(...page.value); next = page.nextLink; }
  return out;
}

// Reads /stream (Server-Sent Events) through fetch, so a bearer token can be sent; reconnects and
// resumes from the last event id. With `after` (an id from position()), it starts with the events
// after it: what changed between a page's read and its subscription is not lost. Returns a
// function that stops it.
export function stream(params, onEvent, onState = () => {}, after = null) {
  const ctrl = new AbortController(); let last = after == null ? null : String(after); let stopped = false;
  async function run() {
    while (!stopped) {
      try {
        const q = new URLSearchParams();
        for (const [k, v] of Object.entries(params)) for (const x of [].concat(v)) q.append(k, x);
        if (last) q.set("lastEventId", last);
        const res = await fetch(`/stream?${q}`, { headers: headers({ Accept: "text/event-stream" }), signal: ctrl.signal });
        if (!res.ok) throw new Error(`stream: HTTP ${res.status}`);
        onState("live");
        const reader = res.body.getReader(); const dec = new TextDecoder(); let buf = "";
        for (;;) {
          const { value, done } = await reader.read(); if (done) break;
          buf += dec.decode(value, { stream: true });
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
            let id = null, data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("id: ")) id = line.slice(4);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (id) last = id;
            if (data) { try { onEvent(JSON.parse(data)); } catch (e) { console.warn("event", e); } }
          }
        }
      } catch (e) { if (stopped || e.name === "AbortError") return; onState("reconnecting"); }
      if (!stopped) await new Promise((r) => setTimeout(r, 1500));
    }
  }
  run();
  return () => { stopped = true; ctrl.abort(); };
}

// The id of the last event, to read before a page reads its data (null when it cannot be read).
export async function position() {
  try { return (await api("/stream/position")).lastEventId; } catch (_) { return null; }
}

// h("div.class#id", {attrs, on: {click}}, children...)
export function h(tag, attrs = {}, ...children) {
  const [, name, rest] = tag.match(/^([a-z0-9]+)(.*)$/i);
  const el = document.createElement(name);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1)); else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) { children.unshift(attrs); attrs = {}; }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false && v != null) el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function twinLink(id) { return h("a", { href: `/ui/twins/${encodeURIComponent(id)}` }, id); }

export function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, "");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export function ago(iso) {
  if (!iso) return "";
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (s < 60) return `${Math.max(0, Math.round(s))} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}

export function shortModel(dtmi) { return (dtmi || "").replace(/^dtmi:/, "").replace(/;\d+$/, "").split(":").pop(); }

// A colour per model: the first 24 models a page meets get 24 colours chosen to be told apart
// (Kelly's and Glasbey's lists); after that, hues spread by the golden angle. A hash of the id
// put AHU, VAV and Humidity all in one purple.
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#f3c300", "#875692", "#f38400", "#a1caf1", "#be0032", "#c2b280", "#008856",
  "#e68fac", "#0067a5", "#f99379", "#604e97", "#dcd300", "#882d17", "#654522"];
const assigned = new Map();
export function modelColor(dtmi) {
  let c = assigned.get(dtmi);
  if (c === undefined) {
    const k = assigned.size;
    c = k < PALETTE.length ? PALETTE[k] : `hsl(${Math.round((k * 137.508) % 360)}, 58%, 46%)`;
    assigned.set(dtmi, c);
  }
  return c;
}

// The unit of a Property or Telemetry as people write it (DTDL's unit names otherwise).
const UNITS = { degreeCelsius: "°C", degreeFahrenheit: "°F", kelvin: "K", percent: "%", watt: "W", kilowatt: "kW",
  megawatt: "MW", kilowattHour: "kWh", wattHour: "Wh", volt: "V", ampere: "A", ohm: "Ω", pascal: "Pa",
  kilopascal: "kPa", bar: "bar", hertz: "Hz", revolutionPerMinute: "rpm", metre: "m", metrePerSecond: "m/s",
  cubicMetrePerHour: "m³/h", litrePerSecond: "L/s", second: "s", hour: "h", kilogram: "kg", lux: "lx",
  partsPerMillion: "ppm", millimetrePerSecond: "mm/s", ampereHour: "Ah" };
export function unitOf(entry) {
  const unit = entry && entry.content && entry.content.unit;
  return typeof unit === "string" ? (UNITS[unit] || unit) : "";
}

// blue -> green -> yellow -> red for t in [0, 1]
export function heat(t) {
  const stops = [[59, 111, 216], [59, 191, 154], [242, 193, 78], [224, 82, 58]];
  t = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t)), f = t - i;
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
}

export function showError(where, err) {
  where.replaceChildren(h("div.error", { role: "alert" }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err.message || err)));
}

export function banner(text) {
  const b = document.getElementById("banner");
  b.textContent = text || ""; b.hidden = !text;
}

export function table(columns, rows, cell = (row, col) => fmt(row[col])) {
  return h("div.scroll", h("table", h("thead", h("tr", columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", rows.map((r) => h("tr", columns.map((c) => {
      const v = cell(r, c); return h(typeof r[c] === "number" ? "td.num" : "td", v);
    }))))));
}

// Model definitions with their `extends` chain, cached per page load.
const modelCache = new Map();
export async function model(id) {
  if (!modelCache.has(id)) modelCache.set(id, api(`/models/${encodeURIComponent(id)}?includeModelDefinition=true`));
  return modelCache.get(id);
}

// Every content of an interface, inherited ones included: [{content, from}]
export async function contentsOf(id, seen = new Set()) {
  if (seen.has(id)) return []; seen.add(id);
  const info = await model(id); const def = info.model || {};
  const own = (def.contents || []).map((c) => ({ content: c, from: id }));
  const ext = def.extends ? (Array.isArray(def.extends) ? def.extends : [def.extends]) : [];
  const inherited = [];
  for (const e of ext) inherited.push(...(typeof e === "string" ? await contentsOf(e, seen) : []));
  return [...own, ...inherited];
}

export function kindOf(content) {
  const t = content["@type"]; return Array.isArray(t) ? t[0] : t;
}

export function isNumericSchema(schema) {
  return ["double", "float", "integer", "long", "dtmi:dtdl:instance:Schema:double;2"].includes(schema)
    || (typeof schema === "string" && /:(double|float|integer|long);\d$/.test(schema));
}
