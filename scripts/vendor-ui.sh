#!/usr/bin/env bash
# Refresh the dashboard's pinned front-end libraries from the npm registry (needs node and npm;
# users never run this: the files are committed and shipped in the package).
set -euo pipefail
cd "$(dirname "$0")/.."
V=src/twinforge/ui/static/vendor
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
(cd "$T" && npm init -y >/dev/null && npm install --no-audit --no-fund --save-exact \
  three@0.170.0 uplot@1.6.31 d3-force@3.0.0 d3-quadtree@3.0.1 d3-dispatch@3.0.1 d3-timer@3.0.1 >/dev/null)
N="$T/node_modules"
mkdir -p "$V/three/jsm/loaders" "$V/three/jsm/utils" "$V/three/jsm/controls" "$V/uplot" "$V/d3"
cp "$N/three/build/three.module.min.js" "$V/three/"
cp "$N/three/LICENSE" "$V/three/LICENSE"
cp "$N/three/examples/jsm/loaders/GLTFLoader.js" "$V/three/jsm/loaders/"
cp "$N/three/examples/jsm/utils/BufferGeometryUtils.js" "$V/three/jsm/utils/"
cp "$N/three/examples/jsm/controls/OrbitControls.js" "$V/three/jsm/controls/"
cp "$N/uplot/dist/uPlot.iife.min.js" "$N/uplot/dist/uPlot.min.css" "$N/uplot/LICENSE" "$V/uplot/"
for p in dispatch quadtree timer force; do
  cp "$N/d3-$p/dist/d3-$p.min.js" "$V/d3/"
  cp "$N/d3-$p/LICENSE" "$V/d3/LICENSE-d3-$p"
done
echo "vendored into $V"
