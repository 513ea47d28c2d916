// 3D view: /ui/scene/{id}?rel=isPartOf&color=lastValue&via=hasCapability&model=<dtmi>&min=&max=
// The geometry of a twin and of every twin below it through `rel` (incoming `isPartOf`, or outgoing
// `contains`/`hasPart`; `dir=in` for other child-to-parent names), each placed by its transform in its parent's frame; meshes coloured by a
// live property (the twin's own, or that of a twin it points to through `via`); click opens the twin.
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { api, fmt, h, heat, position, stream } from "./lib.js";
import { go } from "./app.js";

const DOWN_IN = ["isPartOf", "isLocationOf"]; // child -> parent names (incoming to the parent)

export async function render(main, { rest, params }) {
  let root = rest[0];
  const placed = new Map((await api("/geometry")).value.map((g) => [g.$dtId, g.transform]));
  if (!root) {
    main.replaceChildren(h("h1", "3D scenes"), placed.size
      ? h("ul", [...placed.keys()].sort().map((id) => h("li", h("a", { href: `/ui/scene/${encodeURIComponent(id)}` }, id))))
      : h("p.muted", "No twin has geometry yet: PUT /digitaltwins/{id}/geometry with a GLB (see docs/ui.md)."));
    return null;
  }
  const rel = params.get("rel") || "isPartOf";
  const upward = DOWN_IN.includes(rel) || params.get("dir") === "in";
  const colorName = params.get("color") || "";
  const via = params.get("via") || "";
  const viaModel = params.get("model") || "";
  const status = h("span.muted.small", "loading…");
  const legend = h("div.row.small", { hidden: !colorName }, h("span", colorName), h("span.lo"), h("div.scale"), h("span.hi"));
  const wrap = h("div.scene-wrap");
  const picked = h("div.small", { role: "status" });
  main.replaceChildren(h("h1", `Scene of ${root}`), h("div.row", status, legend), wrap, picked);

  // the twins below the root, with their parent
  const parent = new Map([[root, null]]); const order = [root];
  for (let i = 0; i < order.length && order.length < 2000; i++) {
    const id = order[i]; const enc = encodeURIComponent(id);
    const [inc, out] = await Promise.all([api(`/digitaltwins/${enc}/incomingrelationships`), api(`/digitaltwins/${enc}/relationships`)]);
    const kids = upward ? inc.value.filter((r) => r.$relationshipName === rel).map((r) => r.$sourceId)
      : out.value.filter((r) => r.$relationshipName === rel).map((r) => r.$targetId);
    for (const k of kids) if (!parent.has(k)) { parent.set(k, id); order.push(k); }
  }
  status.textContent = `${order.length} twins; loading geometry…`;

  const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(devicePixelRatio || 1);
  wrap.append(renderer.domElement);
  renderer.domElement.setAttribute("aria-label", `3D scene of ${root}`);
  renderer.domElement.setAttribute("role", "img");
  const scene = new THREE.Scene(); scene.background = new THREE.Color(0xdfe6ee);
  const camera = new THREE.PerspectiveCamera(45, 1, 0.1, 10000);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x667788, 1.6));
  const sun = new THREE.DirectionalLight(0xffffff, 1.4); sun.position.set(30, 60, 40); scene.add(sun);
  const controls = new OrbitControls(camera, renderer.domElement);

  const loader = new GLTFLoader(); const groups = new Map(); const meshesOf = new Map();
  let count = 0;
  for (const id of order) {
    const group = new THREE.Group(); group.name = id; groups.set(id, group);
    (groups.get(parent.get(id)) || scene).add(group);
    if (!placed.has(id)) continue;
    const res = await api(`/digitaltwins/${encodeURIComponent(id)}/geometry`, { raw: true });
    const t = placed.get(id);
    if (t.translation) group.position.fromArray(t.translation);
    if (t.rotation) group.quaternion.fromArray(t.rotation);
    if (t.scale) group.scale.fromArray(t.scale);
    try {
      const gltf = await loader.parseAsync(await res.arrayBuffer(), "");
      const meshes = [];
      gltf.scene.traverse((o) => { if (o.isMesh) { o.material = o.material.clone(); o.userData.twin = id; meshes.push(o); } });
      meshesOf.set(id, meshes); count += meshes.length;
      group.add(gltf.scene);
    } catch (e) { console.warn(`geometry of ${id}:`, e); }
  }
  status.textContent = `${order.length} twins, ${count} meshes · drag to turn, scroll to zoom, click a mesh to open its twin`;

  // frame everything
  const box = new THREE.Box3().setFromObject(scene);
  const size = box.getSize(new THREE.Vector3()).length() || 10; const center = box.getCenter(new THREE.Vector3());
  camera.position.copy(center).add(new THREE.Vector3(0.8, 0.7, 1.0).multiplyScalar(size * 0.9));
  camera.near = size / 1000; camera.far = size * 20; camera.updateProjectionMatrix();
  controls.target.copy(center); controls.update();

  // colours
  const source = new Map(); // twin whose value colours a mesh -> mesh owner
  const values = new Map();
  async function colourSources() {
    if (!colorName) return;
    for (const id of meshesOf.keys()) {
      const twin = await api(`/digitaltwins/${encodeURIComponent(id)}`);
      if (typeof twin[colorName] === "number" || !via) { source.set(id, id); values.set(id, twin[colorName]); continue; }
      const out = await api(`/digitaltwins/${encodeURIComponent(id)}/relationships`);
      for (const r of out.value.filter((r) => r.$relationshipName === via)) {
        const t = await api(`/digitaltwins/${encodeURIComponent(r.$targetId)}`);
        if ((!viaModel || t.$metadata.$model === viaModel) && typeof t[colorName] === "number") { source.set(r.$targetId, id); values.set(id, t[colorName]); break; }
      }
    }
  }
  function recolour() {
    if (!colorName) return;
    const nums = [...values.values()].filter((v) => typeof v === "number");
    const lo = params.has("min") ? Number(params.get("min")) : Math.min(...nums);
    const hi = params.has("max") ? Number(params.get("max")) : Math.max(...nums);
    legend.querySelector(".lo").textContent = Number.isFinite(lo) ? fmt(lo) : "";
    legend.querySelector(".hi").textContent = Number.isFinite(hi) ? fmt(hi) : "";
    for (const [id, meshes] of meshesOf) {
      const v = values.get(id); if (typeof v !== "number") continue;
      const [r, g, b] = heat(hi > lo ? (v - lo) / (hi - lo) : 0.5);
      for (const m of meshes) { m.material.color.setRGB(r / 255, g / 255, b / 255, THREE.SRGBColorSpace); }
    }
  }
  // the position before the read: the stream replays what changed after it, so a change made
  // between the read and the subscription is not missed
  const since = colorName ? await position() : null;
  await colourSources(); recolour();

  function resize() {
    const r = wrap.getBoundingClientRect(); renderer.setSize(r.width, r.height, false);
    camera.aspect = r.width / Math.max(1, r.height); camera.updateProjectionMatrix();
  }
  const ro = new ResizeObserver(resize); ro.observe(wrap); resize();
  let running = true;
  (function loop() { if (!running) return; controls.update(); renderer.render(scene, camera); requestAnimationFrame(loop); })();

  const ray = new THREE.Raycaster(); let downAt = null;
  function hit(clientX, clientY) {
    const r = renderer.domElement.getBoundingClientRect();
    ray.setFromCamera(new THREE.Vector2(((clientX - r.left) / r.width) * 2 - 1, -((clientY - r.top) / r.height) * 2 + 1), camera);
    const all = [...meshesOf.values()].flat();
    const found = ray.intersectObjects(all, false)[0];
    return found ? found.object.userData.twin : null;
  }
  renderer.domElement.addEventListener("pointerdown", (ev) => { downAt = [ev.clientX, ev.clientY]; });
  renderer.domElement.addEventListener("pointerup", (ev) => {
    if (!downAt || Math.hypot(ev.clientX - downAt[0], ev.clientY - downAt[1]) > 4) return;
    const id = hit(ev.clientX, ev.clientY); if (id) go(`/ui/twins/${encodeURIComponent(id)}`);
  });
  renderer.domElement.addEventListener("pointermove", (ev) => {
    const id = hit(ev.clientX, ev.clientY);
    renderer.domElement.style.cursor = id ? "pointer" : "grab";
    picked.textContent = id ? `${id}${values.has(id) ? ` · ${colorName} ${fmt(values.get(id))}` : ""}` : "";
  });

  const stop = colorName && source.size ? stream({ twin: [...source.keys()] }, (ev) => {
    const id = (ev.subject || "").split("/")[0]; const owner = source.get(id);
    const p = ev.data && ev.data.patch ? ev.data.patch.find((x) => x.path === `/${colorName}`) : null;
    if (owner && p && typeof p.value === "number") { values.set(owner, p.value); recolour(); }
  }, () => {}, since) : () => {};

  // for tests and tools: where a twin's mesh is on screen
  window.twinforgeScene = {
    meshes: count,
    screenPosition(id) {
      const meshes = meshesOf.get(id); if (!meshes) return null;
      const c = new THREE.Box3().setFromObject(meshes[0]).getCenter(new THREE.Vector3()).project(camera);
      const r = renderer.domElement.getBoundingClientRect();
      return { x: r.left + (c.x + 1) / 2 * r.width, y: r.top + (1 - c.y) / 2 * r.height };
    },
    color(id) { const m = meshesOf.get(id); return m ? m[0].material.color.getHexString() : null; },
  };
  return () => { running = false; ro.disconnect(); stop(); controls.dispose(); renderer.dispose(); delete window.twinforgeScene; };
}
