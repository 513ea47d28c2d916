// The health pack's pages: /ui/ward (every patient: glucose now, predicted, last day's time in
// range, active alerts) and /ui/ward/{patient} (glucose with the 70-180 target band, insulin and
// carbohydrate, the forecast, the last day's KPIs, alerts). KPIs as twinforge.packs.health.whatif
// computes them: each reading held until the next. Not a medical device.
import { addPoint, chart } from "./charts.js";
import { ApiError, ago, api, fmt, h, listAll, position, queryAll, stream, twinLink } from "./lib.js";

const PATIENT = "dtmi:twinforge:health:Patient;1";
const DAY = 86400;

// The consensus CGM metrics of readings [{time, value}] (percent of time; mean, CV; hypo events).
export function glucoseKpis(points) {
  const t = points.map((p) => Date.parse(p.time) / 1000); const g = points.map((p) => p.value);
  if (!g.length) return null;
  const w = t.length > 1 ? t.slice(1).map((x, i) => x - t[i]) : [1];
  const held = t.length > 1 ? g.slice(0, -1) : g;
  const total = w.reduce((a, b) => a + b, 0) || 1;
  const share = (test) => 100 * held.reduce((a, v, i) => a + (test(v) ? w[i] : 0), 0) / total;
  const mean = held.reduce((a, v, i) => a + v * w[i], 0) / total;
  const sd = Math.sqrt(held.reduce((a, v, i) => a + (v - mean) ** 2 * w[i], 0) / total);
  let events = 0, run = 0;
  held.forEach((v, i) => {
    if (v < 70) { const before = run; run += w[i]; if (run >= 900 && before < 900) events++; } else run = 0;
  });
  return { timeInRange: share((v) => v >= 70 && v <= 180), timeBelow70: share((v) => v < 70), timeBelow54: share((v) => v < 54),
    timeAbove180: share((v) => v > 180), meanGlucose: mean, glucoseCv: mean ? 100 * sd / mean : 0, hypoEvents: events,
    minGlucose: Math.min(...g), maxGlucose: Math.max(...g) };
}

const LABELS = [["timeInRange", "time in range 70-180", "%"], ["timeBelow70", "time below 70", "%"], ["timeBelow54", "time below 54", "%"],
  ["timeAbove180", "time above 180", "%"], ["meanGlucose", "mean glucose", "mg/dL"], ["glucoseCv", "glucose CV", "%"],
  ["hypoEvents", "hypo events (≥ 15 min below 70)", ""], ["minGlucose", "lowest", "mg/dL"], ["maxGlucose", "highest", "mg/dL"]];

const since = (seconds) => new Date(Date.now() - seconds * 1000).toISOString();

async function readings(id, name, seconds) {
  const page = await api(`/digitaltwins/${encodeURIComponent(id)}/history?name=${name}&from=${encodeURIComponent(since(seconds))}&limit=5000`);
  return page.value.filter((p) => typeof p.value === "number");
}

function badge(value) {
  if (typeof value !== "number") return h("span.muted", "–");
  const cls = value < 54 ? "critical" : value < 70 ? "warning" : value > 250 ? "warning" : "ok";
  return h(`span.badge.${cls}`, `${value.toFixed(0)} mg/dL`);
}

export async function render(main, { rest }) {
  return rest[0] ? patientPage(main, rest[0]) : overview(main);
}

async function overview(main) {
  const rows = await queryAll(`SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL('${PATIENT}')`);
  const patients = rows.map((r) => r.T).sort((a, b) => a.$dtId.localeCompare(b.$dtId));
  main.replaceChildren(h("h1", "Ward"), h("p.muted", "Patients' glucose over the last day. A demonstration: not a medical device."));
  if (!patients.length) { main.append(h("p", "No patient twins here: run ", h("code", "twinforge demo health"), ".")); return null; }
  const alerts = await listAll("/alerts?state=active").catch(() => []);
  const body = h("tbody");
  main.append(h("div.scroll", h("table#ward-table", h("thead", h("tr", ["patient", "virtual patient", "glucose", "predicted (30 min)",
    "time in range (24 h)", "below 70 (24 h)", "active alerts"].map((c) => h("th", { scope: "col" }, c)))), body)));
  for (const p of patients) {
    const points = await readings(p.$dtId, "glucose", DAY).catch(() => []);
    const k = glucoseKpis(points);
    const active = alerts.filter((a) => a.twinId === p.$dtId);
    body.append(h("tr", { "data-patient": p.$dtId }, h("td", h("a", { href: `/ui/ward/${encodeURIComponent(p.$dtId)}` }, p.$dtId)),
      h("td", p.virtualPatient || ""), h("td", badge(points.length ? points[points.length - 1].value : null)), h("td", badge(p.predictedGlucose)),
      h("td.num", k ? `${k.timeInRange.toFixed(1)} %` : "–"), h("td.num", k ? `${k.timeBelow70.toFixed(1)} %` : "–"),
      h("td", active.length ? active.map((a) => h(`span.badge.${a.severity}`, a.rule)) : "")));
  }
  window.twinforgeWardReady = performance.now();
  return null;
}

async function patientPage(main, id) {
  const enc = encodeURIComponent(id);
  const resumeAt = await position(); // the stream replays what changed after it: nothing read is missed
  let twin;
  try { twin = await api(`/digitaltwins/${enc}`); } catch (e) {
    main.replaceChildren(h("h1", id), h("p.error", e instanceof ApiError ? `${e.code}: ${e.message}` : String(e))); return null;
  }
  const [glucose, boluses, carbs] = await Promise.all([readings(id, "glucose", DAY), readings(id, "insulinBolus", DAY).catch(() => []),
    readings(id, "carbohydrateIntake", DAY).catch(() => [])]);
  const k = glucoseKpis(glucose);
  const chartEl = h("div.chart"); const alertsEl = h("div"); const note = h("p.muted.small");
  main.replaceChildren(h("h1", id),
    h("p.muted", twinLink(id), ` · ${twin.virtualPatient || ""} · age ${fmt(twin.age)} · ${fmt(twin.weight)} kg · ${twin.ward || ""}`),
    h("div.row", h("span", "now ", badge(glucose.length ? glucose[glucose.length - 1].value : null)),
      h("span", " predicted in 30 min ", h("span#predicted", badge(twin.predictedGlucose)))),
    h("section.panel", h("h2", "Glucose, last 24 h"), chartEl, note),
    h("section.panel", h("h2", "Last 24 h"), k ? h("table#kpis", h("tbody", LABELS.map(([key, label, unit]) =>
      h("tr", h("th", { scope: "row" }, label), h("td.num", { "data-kpi": key }, `${k[key].toFixed(1)}${unit ? " " + unit : ""}`))))) : h("p.muted", "No readings in the last day.")),
    h("section.panel", h("h2", "Alerts"), alertsEl));
  const now = Date.now() / 1000;
  const series = [
    { name: "glucose", points: glucose, color: "#1f6feb", width: 2 },
    { name: "70 mg/dL", points: [{ time: since(DAY), value: 70 }, { time: new Date().toISOString(), value: 70 }], color: "#d1495b", dash: [4, 4], width: 1 },
    { name: "180 mg/dL", points: [{ time: since(DAY), value: 180 }, { time: new Date().toISOString(), value: 180 }], color: "#e67e22", dash: [4, 4], width: 1, bandWith: 1 },
    { name: "bolus (U)", points: boluses, axis: "y2", color: "#2e7d32" },
    { name: "carbohydrate (g)", points: carbs, axis: "y2", color: "#8e44ad" },
  ];
  if (glucose.length >= 12) {
    try {
      const f = await api(`/digitaltwins/${enc}/forecast?name=glucose&horizon=PT1H&step=PT5M`);
      const low = series.length;
      series.push({ name: "forecast low", points: f.value.map((p) => ({ time: p.time, value: p.low })), dash: [4, 4], width: 1, color: "#7aa7f5" });
      series.push({ name: "forecast high", points: f.value.map((p) => ({ time: p.time, value: p.high })), dash: [4, 4], width: 1, color: "#7aa7f5", bandWith: low });
      series.push({ name: `forecast (${f.model})`, points: f.value, dash: [6, 3], color: "#1f6feb" });
    } catch (e) { note.textContent = `no forecast: ${e.message}`; }
  }
  const c = chart(chartEl, series, { height: 300, xmin: now - DAY, xmax: now + 3600, unit: "mg/dL" });
  async function drawAlerts() {
    const alerts = await listAll(`/alerts?twin=${enc}`).catch(() => []);
    alertsEl.replaceChildren(alerts.length ? h("ul", alerts.slice(-20).reverse().map((a) => h("li", h(`span.badge.${a.severity}`, a.rule), ` ${a.state} · `,
      h("code", a.condition), ` · ${ago(a.raisedAt)}`))) : h("p.muted", "No alerts."));
  }
  await drawAlerts();
  const stop = stream({ twin: id }, (ev) => {
    const type = String(ev.type || "");
    if (type.startsWith("Alert.")) { drawAlerts(); return; }
    const values = ev.data && ev.data.patch ? Object.fromEntries(ev.data.patch.map((p) => [p.path.slice(1), p.value]))
      : type.toLowerCase().endsWith("telemetry") && ev.data ? ev.data : {};
    if (typeof values.glucose === "number") addPoint(c.plot, Date.parse(ev.time) / 1000, 1, values.glucose);
    if (typeof values.predictedGlucose === "number") document.getElementById("predicted")?.replaceChildren(badge(values.predictedGlucose));
  }, () => {}, resumeAt);
  window.twinforgeWardReady = performance.now();
  return () => { stop(); c.destroy(); };
}
