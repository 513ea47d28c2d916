// The dashboard's router: every /ui/... path draws one view; links inside the page do not reload it.
import { banner, h } from "./lib.js";

const views = {
  overview: () => import("./overview.js"), graph: () => import("./graph.js"), twins: () => import("./twin.js"),
  query: () => import("./query.js"), models: () => import("./models.js"), scene: () => import("./scene.js"),
  scenarios: () => import("./scenarios.js"), alerts: () => import("./alerts.js"), ward: () => import("./ward.js"),
  line: () => import("./line.js"), whatif: () => import("./whatif.js"),
};
let cleanup = null;

function route() {
  const parts = location.pathname.replace(/^\/ui\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const name = parts[0] || "overview";
  return { name: views[name] ? name : "missing", rest: parts.slice(1), params: new URLSearchParams(location.search) };
}

async function render() {
  const main = document.getElementById("view");
  if (cleanup) { try { cleanup(); } catch (e) { console.warn(e); } cleanup = null; }
  banner("");
  const r = route();
  for (const a of document.querySelectorAll("header nav a")) {
    const on = a.dataset.nav === r.name;  // a twin's page is none of the nav's pages
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  main.replaceChildren(h("p.muted", "Loading…"));
  if (r.name === "missing") { main.replaceChildren(h("h1", "Not found"), h("p", `There is no page ${location.pathname}.`)); return; }
  document.title = `twinforge · ${r.name}`;
  try {
    const mod = await views[r.name]();
    cleanup = (await mod.render(main, r)) || null;
  } catch (e) {
    console.warn(e);
    if (e.status === 401) {
      main.replaceChildren(h("h1", "This server needs a token"), h("p", "It was started with --auth: press ", h("b", "Token"),
        " (top right) and paste a token from ", h("code", "twinforge tokens create NAME --role reader"), "."),
      h("p.error", `${e.code}: ${e.message}`));
      return;
    }
    main.replaceChildren(h("h1", "Something went wrong"), h("p.error", String(e.message || e)));
  }
}

export function go(url) { history.pushState(null, "", url); render(); }
window.twinforgeGo = go;

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a");
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/ui")) return;
  ev.preventDefault(); go(url.pathname + url.search);
});
window.addEventListener("popstate", render);
document.getElementById("token-button").addEventListener("click", () => {
  const now = localStorage.getItem("twinforge.token") || "";
  const value = prompt("Bearer token (servers started with --auth); empty to clear", now);
  if (value === null) return;
  if (value) localStorage.setItem("twinforge.token", value.trim()); else localStorage.removeItem("twinforge.token");
  render();
});
render();
