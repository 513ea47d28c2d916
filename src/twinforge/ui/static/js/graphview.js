// A canvas drawing of twins and relationships with a force layout (d3-force); pan, zoom, pick.
import { modelColor } from "./lib.js";

export class GraphView {
  constructor(container, { onPick = () => {}, onOpen = () => {} } = {}) {
    this.canvas = document.createElement("canvas");
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", "Graph of twins and relationships");
    this.canvas.tabIndex = 0;
    container.append(this.canvas);
    this.ctx = this.canvas.getContext("2d");
    this.nodes = []; this.links = []; this.byId = new Map();
    this.view = { x: 0, y: 0, k: 1 }; this.selected = null; this.hover = null;
    this.onPick = onPick; this.onOpen = onOpen; this.frames = 0; this.drawnAt = null;
    this.resize = () => { const r = this.canvas.getBoundingClientRect(); const d = devicePixelRatio || 1;
      this.canvas.width = Math.max(1, r.width * d); this.canvas.height = Math.max(1, r.height * d);
      if (this.touched) this.draw(); else this.fit(); };
    this.observer = new ResizeObserver(this.resize); this.observer.observe(this.canvas);
    this.bind();
  }

  set(nodes, links) {
    this.nodes = []; this.links = []; this.byId.clear(); this.add(nodes, links); this.fit();
  }

  add(nodes, links) {
    const n0 = this.nodes.length;
    for (const n of nodes) if (!this.byId.has(n.id)) { this.byId.set(n.id, n); this.nodes.push(n); }
    for (const l of links) {
      const key = `${l.source}|${l.name}|${l.target}`;
      if (this.links.some((x) => x.key === key)) continue;
      if (this.byId.has(l.source) && this.byId.has(l.target)) this.links.push({ ...l, key, s: this.byId.get(l.source), t: this.byId.get(l.target) });
    }
    // seed new nodes beside a neighbour so the layout settles fast
    for (const n of this.nodes.slice(n0)) {
      if (n.x !== undefined) continue;
      const near = this.links.find((l) => (l.s === n && l.t.x !== undefined) || (l.t === n && l.s.x !== undefined));
      const base = near ? (near.s === n ? near.t : near.s) : null;
      const i = this.nodes.indexOf(n), a = i * 2.399963, r = base ? 30 : 12 * Math.sqrt(i + 0.5);
      n.x = (base ? base.x : 0) + r * Math.cos(a); n.y = (base ? base.y : 0) + r * Math.sin(a);
    }
    this.layout();
  }

  layout() {
    if (this.sim) this.sim.stop();
    const big = this.nodes.length > 3000;
    this.sim = d3.forceSimulation(this.nodes)
      .force("charge", d3.forceManyBody().strength(big ? -8 : -60).theta(big ? 1.2 : 0.9).distanceMax(big ? 120 : 400))
      .force("link", d3.forceLink(this.links.map((l) => ({ source: l.s, target: l.t }))).distance(big ? 12 : 40).strength(0.4))
      .force("x", d3.forceX(0).strength(0.02)).force("y", d3.forceY(0).strength(0.02))
      .alphaDecay(big ? 0.06 : 0.03).on("tick", () => this.draw())
      .on("end", () => { if (!this.touched) this.fit(); });
    this.draw();
  }

  fit() {
    if (!this.nodes.length) return;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const n of this.nodes) { x0 = Math.min(x0, n.x); x1 = Math.max(x1, n.x); y0 = Math.min(y0, n.y); y1 = Math.max(y1, n.y); }
    const w = this.canvas.width || 800, hgt = this.canvas.height || 600;
    const k = Math.min(2, 0.9 * Math.min(w / Math.max(1, x1 - x0), hgt / Math.max(1, y1 - y0)));
    this.view = { k, x: w / 2 - k * (x0 + x1) / 2, y: hgt / 2 - k * (y0 + y1) / 2 };
    this.draw();
  }

  draw() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.paint(); });
  }

  paint() {
    const { ctx, canvas, view } = this; const d = devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(view.k, 0, 0, view.k, view.x, view.y);
    const big = this.nodes.length > 3000;
    const r = Math.max(big ? 1.5 : 3, (big ? 2.5 : 6) * Math.min(1, 1.5 / Math.sqrt(view.k)) * d / d);
    ctx.lineWidth = 1 / view.k; ctx.strokeStyle = "rgba(90,100,115,0.35)"; ctx.beginPath();
    for (const l of this.links) { ctx.moveTo(l.s.x, l.s.y); ctx.lineTo(l.t.x, l.t.y); }
    ctx.stroke();
    // Direction (an arrowhead at the target) and, when they can be read, the relationship's name.
    const arrows = this.links.length < 3000 || view.k > 2;
    if (arrows) {
      ctx.fillStyle = "rgba(90,100,115,0.7)"; ctx.beginPath();
      const size = 5 / view.k;
      for (const l of this.links) {
        const dx = l.t.x - l.s.x, dy = l.t.y - l.s.y, len = Math.hypot(dx, dy);
        if (len < r * 2 + size) continue;
        const ux = dx / len, uy = dy / len, tipx = l.t.x - ux * r, tipy = l.t.y - uy * r;
        ctx.moveTo(tipx, tipy);
        ctx.lineTo(tipx - ux * size - uy * size * 0.5, tipy - uy * size + ux * size * 0.5);
        ctx.lineTo(tipx - ux * size + uy * size * 0.5, tipy - uy * size - ux * size * 0.5);
      }
      ctx.fill();
    }
    if (this.links.length < 150 || view.k > 3) {
      ctx.fillStyle = "#5a6473"; ctx.font = `${10 * d / view.k}px system-ui`; ctx.textAlign = "center";
      for (const l of this.links) if (l.name) ctx.fillText(l.name, (l.s.x + l.t.x) / 2, (l.s.y + l.t.y) / 2 - 2 / view.k);
      ctx.textAlign = "start";
    }
    const groups = new Map();
    for (const n of this.nodes) { const c = n.color || (n.color = modelColor(n.model || "")); if (!groups.has(c)) groups.set(c, []); groups.get(c).push(n); }
    for (const [c, list] of groups) {
      ctx.fillStyle = c; ctx.beginPath();
      for (const n of list) { ctx.moveTo(n.x + r, n.y); ctx.arc(n.x, n.y, r, 0, 6.2832); }
      ctx.fill();
    }
    for (const n of [this.selected, this.hover]) {
      if (!n) continue;
      ctx.lineWidth = 2 / view.k; ctx.strokeStyle = "#111"; ctx.beginPath(); ctx.arc(n.x, n.y, r + 2 / view.k, 0, 6.2832); ctx.stroke();
    }
    if (!big || view.k > 2) {
      ctx.fillStyle = "#1d232b"; ctx.font = `${12 * d / view.k}px system-ui`;
      const labels = this.nodes.length < 400 ? this.nodes : [this.selected, this.hover].filter(Boolean);
      for (const n of labels) ctx.fillText(n.label || n.id, n.x + r + 2 / view.k, n.y + 4 / view.k);
    }
    this.frames++;
    if (this.drawnAt === null && this.nodes.length) {
      this.drawnAt = performance.now();
      this.canvas.dataset.drawn = String(this.nodes.length);
      performance.mark("twinforge-graph-drawn");
    }
  }

  at(ev) {
    const rect = this.canvas.getBoundingClientRect(), d = devicePixelRatio || 1;
    const px = (ev.clientX - rect.left) * d, py = (ev.clientY - rect.top) * d;
    const x = (px - this.view.x) / this.view.k, y = (py - this.view.y) / this.view.k;
    let best = null, bd = (10 * d / this.view.k) ** 2;
    for (const n of this.nodes) { const dd = (n.x - x) ** 2 + (n.y - y) ** 2; if (dd < bd) { bd = dd; best = n; } }
    return { best, px, py };
  }

  screenOf(id) {
    const n = this.byId.get(id); if (!n) return null;
    const rect = this.canvas.getBoundingClientRect(), d = devicePixelRatio || 1;
    return { x: rect.left + (n.x * this.view.k + this.view.x) / d, y: rect.top + (n.y * this.view.k + this.view.y) / d };
  }

  bind() {
    const c = this.canvas; let drag = null;
    c.addEventListener("wheel", (ev) => {
      ev.preventDefault(); this.touched = true; const { px, py } = this.at(ev); const f = Math.exp(-ev.deltaY * 0.0015);
      this.view.x = px - (px - this.view.x) * f; this.view.y = py - (py - this.view.y) * f; this.view.k *= f; this.draw();
    }, { passive: false });
    c.addEventListener("pointerdown", (ev) => { this.touched = true; drag = { x: ev.clientX, y: ev.clientY, vx: this.view.x, vy: this.view.y, moved: false }; c.setPointerCapture(ev.pointerId); });
    c.addEventListener("pointermove", (ev) => {
      const d = devicePixelRatio || 1;
      if (drag) {
        const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        this.view.x = drag.vx + dx * d; this.view.y = drag.vy + dy * d; this.draw(); return;
      }
      const { best } = this.at(ev); if (best !== this.hover) { this.hover = best; c.style.cursor = best ? "pointer" : "grab"; this.draw(); }
    });
    c.addEventListener("pointerup", (ev) => {
      const moved = drag && drag.moved; drag = null; if (moved) return;
      const { best } = this.at(ev); this.selected = best; this.draw(); this.onPick(best);
    });
    c.addEventListener("dblclick", (ev) => { const { best } = this.at(ev); if (best) this.onOpen(best); });
    c.addEventListener("keydown", (ev) => {
      if (!this.nodes.length) return;
      if (ev.key === "Enter" && this.selected) { this.onOpen(this.selected); return; }
      if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
        const i = this.selected ? this.nodes.indexOf(this.selected) : -1;
        this.selected = this.nodes[(i + (ev.key === "ArrowRight" ? 1 : this.nodes.length - 1)) % this.nodes.length];
        this.onPick(this.selected); this.draw(); ev.preventDefault();
      }
      if (ev.key === "+" || ev.key === "-") { this.view.k *= ev.key === "+" ? 1.25 : 0.8; this.draw(); }
    });
  }

  destroy() { if (this.sim) this.sim.stop(); this.observer.disconnect(); }
}
