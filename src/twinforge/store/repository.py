"""Where DTDL models are looked up when a batch refers to ones it does not hold.

`FolderResolver` reads a folder laid out by the DTMI-to-path convention of the public
Azure IoT models repository (``dtmi:com:example:Thermostat;1`` ->
``dtmi/com/example/thermostat-1.json``); `StoreResolver` returns the models a store already
holds. Both are the ``resolver`` callables `twinforge.dtdl.parse_models` takes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from twinforge.errors import InvalidArgument, NotFound
from twinforge.store.base import ModelStore

_DTMI = re.compile(r"^dtmi:[A-Za-z0-9_:]+;[0-9]+(?:\.[0-9]+)?$")


def dtmi_to_path(dtmi: str) -> str:
    """The repository path of a DTMI: lower case, ``:`` to ``/``, ``;`` to ``-``, ``.json``."""
    if not _DTMI.match(dtmi):
        raise InvalidArgument(f"'{dtmi}' is not a DTMI with a version, as repository paths need")
    return dtmi.lower().replace(":", "/").replace(";", "-") + ".json"


class FolderResolver:
    """Finds models in a local folder laid out as a models repository."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise NotFound(f"no models repository folder at {self.root}")
        self.read: list[Path] = []  # files read, in order

    def __call__(self, dtmis: list[str]) -> list[Any]:
        """The documents defining ``dtmis`` that the folder holds (the others are left out)."""
        out: list[Any] = []
        for dtmi in dtmis:
            try:
                file = self.root / dtmi_to_path(dtmi)
            except InvalidArgument:
                continue
            if not file.is_file():
                continue
            try:
                out.append(json.loads(file.read_text(encoding="utf-8-sig")))
            except json.JSONDecodeError as exc:
                raise InvalidArgument(f"{file}: not valid JSON ({exc})") from exc
            self.read.append(file)
        return out


class StoreResolver:
    """Returns the documents of models a store already holds."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store

    def __call__(self, dtmis: list[str]) -> list[Any]:
        """The stored documents of ``dtmis`` (those the store lacks are left out)."""
        out: list[Any] = []
        for dtmi in dtmis:
            record = self.store.get_model(dtmi)
            if record is not None:
                out.append(json.loads(record.document))
        return out


__all__ = ["FolderResolver", "StoreResolver", "dtmi_to_path"]
