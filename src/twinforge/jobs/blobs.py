"""Where import jobs may read and write: only what the operator allows.

- Files (a path or a ``file://`` URI) only under the folders given with ``serve --blob-root``
  (none by default). The path is resolved (``..`` and symbolic links followed) and refused
  when it ends outside every root; the file itself is opened without following a link.
- ``http(s)://`` only to hosts given with ``serve --blob-allow`` (none by default; ``*.`` in
  front allows the subdomains). Every address the name resolves to must be public: loopback,
  link-local (cloud metadata at 169.254.169.254), private, multicast and reserved addresses are
  refused unless that very host or address is listed. The request goes to the address that
  was checked (the name is kept for TLS), redirects are checked the same way, and the size
  and the time are bounded.

Each refusal is an `InvalidArgument` with code ``BlobNotAllowed`` naming the rule.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

import httpx

from twinforge.errors import InvalidArgument

MAX_BYTES = 1024 * 1024 * 1024
TIMEOUT = 120.0
REDIRECTS = 5


def _refuse(message: str) -> InvalidArgument:
    return InvalidArgument(message, code="BlobNotAllowed")


def _host_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class BlobPolicy:
    """The folders and hosts import jobs may use, and how much they may move."""

    roots: tuple[Path, ...] = ()
    allow: tuple[str, ...] = ()  # host names or addresses; "*.example.com" for subdomains
    max_bytes: int = MAX_BYTES
    timeout: float = TIMEOUT
    resolve: Callable[..., list[Any]] = field(default=socket.getaddrinfo, compare=False, repr=False)

    @classmethod
    def of(cls, roots: Iterable[str | Path] = (), allow: Iterable[str] = (), *, max_bytes: int = MAX_BYTES,
           timeout: float = TIMEOUT) -> BlobPolicy:
        return cls(tuple(Path(r).resolve() for r in roots), tuple(a.lower().strip() for a in allow if a.strip()),
                   max_bytes, timeout)

    # -- checks -------------------------------------------------------------

    def check(self, uri: str) -> None:
        """Refuse ``uri`` now if no rule allows it (the addresses are checked again when used)."""
        parsed = urlparse(uri)
        if parsed.scheme in ("http", "https"):
            self._addresses(parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80))
        elif parsed.scheme in ("", "file"):
            self._path(uri)
        else:
            raise _refuse(f"{uri[:200]}: only file paths and http(s) URLs are read (not '{parsed.scheme}:')")

    def _path(self, uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise _refuse(f"{uri[:200]}: a file URI names no host")
        raw = unquote(parsed.path) if parsed.scheme == "file" else uri
        if "\x00" in raw:
            raise _refuse("a path may not hold a NUL character")
        if not self.roots:
            raise _refuse(f"{raw[:200]}: reading or writing server files is off (serve --blob-root DIR turns it on "
                          "for a folder)")
        path = Path(raw)
        if not path.is_absolute():
            raise _refuse(f"{raw[:200]}: give an absolute path under a --blob-root folder")
        real = path.resolve()
        if not any(real.is_relative_to(root) for root in self.roots):
            raise _refuse(f"{raw[:200]}: outside the --blob-root folders (resolved to {real})")
        return real

    def _listed(self, host: str) -> bool:
        return host in self.allow or any(a.startswith("*.") and host.endswith(a[1:]) for a in self.allow)

    def _addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses of an allowed host."""
        host = host.lower().rstrip(".")
        if not host:
            raise _refuse("the URL names no host")
        if not self._listed(host):
            raise _refuse(f"host '{host}' is not allowed (serve --blob-allow HOST allows one)")
        literal = _host_address(host)
        try:
            infos = [(literal,)] if literal else [(ipaddress.ip_address(i[4][0].split("%")[0]),)
                                                   for i in self.resolve(host, port, type=socket.SOCK_STREAM)]
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"cannot resolve '{host}': {exc}", code="ValidationFailed") from None
        addresses = []
        for (address,) in infos:
            if not _public(address) and host not in self.allow and str(address) not in self.allow:
                raise _refuse(f"host '{host}' resolves to {address}, a loopback, private, link-local or reserved "
                              "address (list the host itself with --blob-allow to allow it)")
            addresses.append(str(address))
        if not addresses:
            raise InvalidArgument(f"cannot resolve '{host}'", code="ValidationFailed")
        return addresses

    # -- reading and writing -------------------------------------------------

    def read(self, uri: str) -> bytes:
        """The bytes at ``uri``, if the rules allow it (`InvalidArgument` ``BlobNotAllowed`` if not)."""
        parsed = urlparse(uri)
        if parsed.scheme in ("http", "https"):
            return self._http("GET", uri, None)
        self.check(uri)
        path = self._path(uri)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise InvalidArgument(f"cannot read {uri[:200]}: {exc.strerror}", code="ValidationFailed") from None
        with os.fdopen(fd, "rb") as f:
            data = f.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise _refuse(f"{uri[:200]} is larger than the limit of {self.max_bytes:,} bytes")
        return data

    def write(self, uri: str, data: bytes) -> None:
        """Write ``data`` to ``uri`` (a file under a root, made with its folders; or an HTTP PUT)."""
        parsed = urlparse(uri)
        if parsed.scheme in ("http", "https"):
            self._http("PUT", uri, data)
            return
        self.check(uri)
        path = self._path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path(str(path.parent / path.name))  # the folders made are still under the root
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    def _http(self, method: str, uri: str, data: bytes | None) -> bytes:
        """One request to a checked address; redirects followed only where the rules allow."""
        deadline = time.monotonic() + self.timeout
        for _ in range(REDIRECTS + 1):
            parsed = urlparse(uri)
            if parsed.scheme not in ("http", "https"):
                raise _refuse(f"a redirect to {uri[:200]}: only http(s) is followed")
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            host = parsed.hostname or ""
            address = self._addresses(host, port)[0]
            pinned = f"[{address}]" if ":" in address else address
            target = parsed._replace(netloc=f"{pinned}:{port}").geturl()
            headers = {"host": parsed.netloc.rsplit("@", 1)[-1]}
            if data is not None:
                headers["x-ms-blob-type"] = "BlockBlob"
            left = max(0.1, deadline - time.monotonic())
            with httpx.Client(timeout=httpx.Timeout(min(left, 60.0)), follow_redirects=False) as client, \
                    client.stream(method, target, content=data, headers=headers,
                                  extensions={"sni_hostname": host}) as response:
                if response.is_redirect and "location" in response.headers:
                    uri = urljoin(uri, response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise InvalidArgument(f"{method} {uri[:200]} answered {response.status_code}",
                                          code="ValidationFailed")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise _refuse(f"{uri[:200]} is larger than the limit of {self.max_bytes:,} bytes")
                    if time.monotonic() > deadline:
                        raise _refuse(f"{uri[:200]} took longer than the limit of {self.timeout:g} s")
                return bytes(body)
        raise _refuse(f"{uri[:200]}: more than {REDIRECTS} redirects")


__all__ = ["BlobPolicy"]
