"""Twins' geometry: a glTF 2.0 asset (GLB or glTF JSON) per twin, placed by a transform.

The server stores the asset as it was sent (`BlobStore`) and the transform beside it
(`SettingStore`); the dashboard's 3D view (`/ui/scene/{id}`) draws a twin's geometry and
that of everything below it. `box_glb` writes a small coloured box, which the building
demo uses so that its scene is never empty.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Protocol

from twinforge.errors import InvalidArgument, NotFound

GLB = "model/gltf-binary"
GLTF = "model/gltf+json"
MAX_BYTES = 32 * 1024 * 1024
_MAGIC = b"glTF"


class GeometryBackend(Protocol):
    def get_blob(self, key: str) -> tuple[str, bytes] | None: ...
    def put_blob(self, key: str, content_type: str, data: bytes) -> None: ...
    def delete_blob(self, key: str) -> bool: ...
    def get_setting(self, key: str) -> str | None: ...
    def put_setting(self, key: str, value: str) -> None: ...
    def delete_setting(self, key: str) -> bool: ...
    def list_settings(self, prefix: str) -> list[tuple[str, str]]: ...


@dataclass
class Transform:
    """Where a twin's geometry sits in its parent's frame: glTF's TRS (metres, a unit quaternion)."""

    translation: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    rotation: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 1.0])
    scale: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])

    def to_json(self) -> dict[str, list[float]]:
        return {"translation": self.translation, "rotation": self.rotation, "scale": self.scale}

    @classmethod
    def from_json(cls, doc: Any) -> Transform:
        if not isinstance(doc, dict):
            raise InvalidArgument("a transform is an object: {translation: [x,y,z], rotation: [x,y,z,w], "
                                  "scale: [x,y,z]}")
        unknown = sorted(set(doc) - {"translation", "rotation", "scale"})
        if unknown:
            raise InvalidArgument(f"unknown transform field(s): {', '.join(unknown)}")
        out = cls()
        for name, size in (("translation", 3), ("rotation", 4), ("scale", 3)):
            if name in doc:
                setattr(out, name, _numbers(doc[name], size, name))
        norm = math.sqrt(sum(v * v for v in out.rotation))
        if abs(norm - 1.0) > 1e-3:
            raise InvalidArgument(f"rotation must be a unit quaternion [x, y, z, w] (its length is {norm:.4g})")
        if any(v == 0 for v in out.scale):
            raise InvalidArgument("scale must not be zero on any axis")
        return out

    @classmethod
    def from_query(cls, params: Any) -> Transform | None:
        """`?translation=1,2,3&rotation=0,0,0,1&scale=2` (a single scale is uniform)."""
        given = {k: params.get(k) for k in ("translation", "rotation", "scale") if params.get(k) is not None}
        if not given:
            return None
        doc: dict[str, Any] = {}
        for name, text in given.items():
            try:
                values = [float(v) for v in str(text).split(",")]
            except ValueError:
                raise InvalidArgument(f"{name} must be numbers separated by commas, got {text!r}") from None
            doc[name] = values * 3 if name == "scale" and len(values) == 1 else values
        return cls.from_json(doc)


def _numbers(value: Any, size: int, name: str) -> list[float]:
    if (not isinstance(value, list) or len(value) != size
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise InvalidArgument(f"{name} must be a list of {size} finite numbers")
    return [float(v) for v in value]


def check_asset(data: bytes, content_type: str | None) -> str:
    """The media type of a glTF 2.0 asset (GLB or glTF JSON); `InvalidArgument` saying what is wrong."""
    if not data:
        raise InvalidArgument("the geometry is empty: send a glTF 2.0 asset (GLB or glTF JSON)")
    if len(data) > MAX_BYTES:
        raise InvalidArgument(f"the geometry is {len(data):,} bytes; the limit is {MAX_BYTES:,}")
    if data[:4] == _MAGIC:
        if len(data) < 20:
            raise InvalidArgument("the GLB is cut short: its 12-byte header and JSON chunk are missing")
        version, length = struct.unpack_from("<II", data, 4)
        if version != 2:
            raise InvalidArgument(f"GLB version {version}: only glTF 2.0 is supported")
        if length != len(data):
            raise InvalidArgument(f"the GLB header says {length:,} bytes but {len(data):,} were sent")
        chunk_length, chunk_type = struct.unpack_from("<I4s", data, 12)
        if chunk_type != b"JSON" or 20 + chunk_length > len(data):
            raise InvalidArgument("the GLB's first chunk must be its JSON")
        _check_json(data[20:20 + chunk_length])
        return GLB
    if content_type and "gltf-binary" in content_type:
        raise InvalidArgument("the body is not a GLB (it does not start with 'glTF')")
    doc = _check_json(data)
    for buffer in doc.get("buffers") or []:
        uri = buffer.get("uri") if isinstance(buffer, dict) else None
        if isinstance(uri, str) and not uri.startswith("data:"):
            raise InvalidArgument(f"buffer uri {uri!r} points outside the asset: embed buffers as data: URIs "
                                  "or send a GLB")
    return GLTF


def _check_json(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"the geometry is neither a GLB nor glTF JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("asset"), dict):
        raise InvalidArgument("glTF JSON must be an object with an 'asset' object")
    version = str(doc["asset"].get("version", ""))
    if not version.startswith("2."):
        raise InvalidArgument(f"glTF asset version {version!r}: only 2.x is supported")
    return doc


class Geometry:
    """Store, read and place twins' geometry."""

    def __init__(self, store: GeometryBackend) -> None:
        self.store = store

    def put(self, twin_id: str, data: bytes, content_type: str | None,
            transform: Transform | None = None) -> dict[str, Any]:
        kind = check_asset(data, content_type)
        self.store.put_blob(f"geometry/{twin_id}", kind, data)
        if transform is not None or self.store.get_setting(f"geometry-transform/{twin_id}") is None:
            self.set_transform(twin_id, transform or Transform())
        return self.info(twin_id)

    def get(self, twin_id: str) -> tuple[str, bytes]:
        blob = self.store.get_blob(f"geometry/{twin_id}")
        if blob is None:
            raise NotFound(f"twin '{twin_id}' has no geometry", code="GeometryNotFound")
        return blob

    def info(self, twin_id: str) -> dict[str, Any]:
        content_type, data = self.get(twin_id)
        return {"$dtId": twin_id, "contentType": content_type, "bytes": len(data),
                "transform": self.transform(twin_id).to_json()}

    def transform(self, twin_id: str) -> Transform:
        text = self.store.get_setting(f"geometry-transform/{twin_id}")
        return Transform.from_json(json.loads(text)) if text else Transform()

    def set_transform(self, twin_id: str, transform: Transform) -> None:
        self.store.put_setting(f"geometry-transform/{twin_id}", json.dumps(transform.to_json()))

    def placed(self) -> list[dict[str, Any]]:
        """Every twin with geometry and its transform (without the assets)."""
        prefix = "geometry-transform/"
        return [{"$dtId": key[len(prefix):], "transform": json.loads(value)}
                for key, value in self.store.list_settings(prefix)]

    def delete(self, twin_id: str) -> bool:
        self.store.delete_setting(f"geometry-transform/{twin_id}")
        return self.store.delete_blob(f"geometry/{twin_id}")


def box_glb(size: tuple[float, float, float], color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0),
            name: str = "box") -> bytes:
    """A GLB of one box centred on the origin (24 vertices with normals, 36 indices)."""
    hx, hy, hz = (s / 2 for s in size)
    faces = [((1, 0, 0), [(hx, -hy, -hz), (hx, hy, -hz), (hx, hy, hz), (hx, -hy, hz)]),
             ((-1, 0, 0), [(-hx, -hy, hz), (-hx, hy, hz), (-hx, hy, -hz), (-hx, -hy, -hz)]),
             ((0, 1, 0), [(-hx, hy, -hz), (-hx, hy, hz), (hx, hy, hz), (hx, hy, -hz)]),
             ((0, -1, 0), [(-hx, -hy, hz), (-hx, -hy, -hz), (hx, -hy, -hz), (hx, -hy, hz)]),
             ((0, 0, 1), [(-hx, -hy, hz), (hx, -hy, hz), (hx, hy, hz), (-hx, hy, hz)]),
             ((0, 0, -1), [(hx, -hy, -hz), (-hx, -hy, -hz), (-hx, hy, -hz), (hx, hy, -hz)])]
    positions: list[float] = []
    normals: list[float] = []
    indices: list[int] = []
    for normal, corners in faces:
        base = len(positions) // 3
        for corner in corners:
            positions.extend(corner)
            normals.extend(normal)
        indices.extend([base, base + 1, base + 2, base, base + 2, base + 3])
    pos = struct.pack(f"<{len(positions)}f", *positions)
    nor = struct.pack(f"<{len(normals)}f", *normals)
    idx = struct.pack(f"<{len(indices)}H", *indices)
    binary = pos + nor + idx
    binary += b"\0" * (-len(binary) % 4)
    doc = {
        "asset": {"version": "2.0", "generator": "twinforge"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"name": name, "primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2,
                                                  "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": list(color), "metallicFactor": 0.0,
                                                "roughnessFactor": 0.9}}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(pos), "target": 34962},
                        {"buffer": 0, "byteOffset": len(pos), "byteLength": len(nor), "target": 34962},
                        {"buffer": 0, "byteOffset": len(pos) + len(nor), "byteLength": len(idx), "target": 34963}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 24, "type": "VEC3",
                       "min": [-hx, -hy, -hz], "max": [hx, hy, hz]},
                      {"bufferView": 1, "componentType": 5126, "count": 24, "type": "VEC3"},
                      {"bufferView": 2, "componentType": 5123, "count": 36, "type": "SCALAR"}],
    }
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return (_MAGIC + struct.pack("<II", 2, total) + struct.pack("<I4s", len(text), b"JSON") + text
            + struct.pack("<I4s", len(binary), b"BIN\0") + binary)


__all__ = ["GLB", "GLTF", "Geometry", "Transform", "box_glb", "check_asset"]
