"""Digital Twin Model Identifier (DTMI) syntax, for DTDL v2 and v3 (v4 as v3)."""

from __future__ import annotations

import re

# v2: path segments of letters, digits and underscores (no leading digit, no
# trailing underscore); a mandatory integer version 1..999999999.
_SEGMENT = r"[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?"
_V2 = re.compile(rf"^dtmi:{_SEGMENT}(?::{_SEGMENT})*;[1-9][0-9]{{0,8}}$")
# v3: the version is optional and may carry a minor part (1.2); segments may
# also start with an underscore when they are "system" segments.
_V3_SEGMENT = r"(?:_*[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?|_+[A-Za-z0-9](?:[A-Za-z0-9_]*[A-Za-z0-9])?)"
_V3 = re.compile(
    rf"^dtmi:{_SEGMENT}(?::{_V3_SEGMENT})*(?:;[1-9][0-9]{{0,8}}(?:\.[1-9][0-9]{{0,5}})?)?$"
)
_ANY = re.compile(rf"^dtmi:{_V3_SEGMENT}(?::{_V3_SEGMENT})*(?:;[0-9]+(?:\.[0-9]+)?)?$")

NAME_PATTERN = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$")
LANGUAGE_TAG = re.compile(r"^[a-z]{2,4}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?$")  # as the DTDL specifications give it


def is_dtmi(value: object, version: int = 3) -> bool:
    """True when ``value`` is a DTMI valid in DTDL ``version``."""
    if not isinstance(value, str):
        return False
    return bool((_V2 if version == 2 else _V3).match(value))


_USER_V3 = re.compile(
    rf"^dtmi:{_SEGMENT}(?::{_SEGMENT})*(?:;[1-9][0-9]{{0,8}}(?:\.[1-9][0-9]{{0,5}})?)?$"
)
TERM = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def is_user_dtmi(value: object, version: int = 3) -> bool:
    """True for a DTMI a model author may assign: no system (underscore) segments."""
    if not isinstance(value, str):
        return False
    return bool((_V2 if version == 2 else _USER_V3).match(value))


def looks_like_dtmi(value: str) -> bool:
    """True for anything of the general ``dtmi:...`` shape, valid or not."""
    return value.startswith("dtmi:")


def is_reserved(dtmi: str) -> bool:
    """DTMIs under ``dtmi:dtdl:`` and ``dtmi:standard:`` belong to the language."""
    return dtmi.startswith(("dtmi:dtdl:", "dtmi:standard:"))


def generic_dtmi(value: str) -> bool:
    return bool(_ANY.match(value))
