"""The layer every client document goes through: a pydantic model checks its shape (types,
required and unknown fields, ranges) and the checks that need only the document itself; `check`
turns pydantic's complaints into one `InvalidArgument` that names each field at fault by its
path (``overrides[0].value``). Services check what needs the graph (models, twins, names)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    WithJsonSchema,
)

from twinforge.durations import seconds
from twinforge.errors import InvalidArgument

D = TypeVar("D", bound=BaseModel)


class Document(BaseModel):
    """A client document: strict types (no "1" for 1, no true for 1), unknown fields refused,
    no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, allow_inf_nan=False)


def _duration(value: Any) -> float:
    try:
        return seconds(value, "")
    except InvalidArgument as exc:
        raise ValueError(str(exc)) from None


# ISO 8601 (PT1M, P1D), the short form (90s, 24h) or a number of seconds; held as seconds.
Duration = Annotated[float, BeforeValidator(_duration), WithJsonSchema({
    "anyOf": [{"type": "string", "examples": ["PT24H", "P1D", "15m"]}, {"type": "number", "minimum": 0}],
    "description": "ISO 8601 duration (PT1M, P1D), short form (90s, 24h) or seconds"})]

# What pydantic's error types mean, said the way our other errors say it.
_PLAIN = {
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
}


_TAGS = {"str", "int", "float", "bool", "none", "dict", "list"}

_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _where(loc: tuple[Any, ...]) -> str:
    """A field's path as a user writes it (``mqtt[0].values.speed``), without the tags pydantic
    adds for a union's members and validators' steps."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _TAGS or "[" in str(part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _numeric_text(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return isinstance(value, str)


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(error: Any) -> str:
    """One pydantic error as ``'path': what is wrong``."""
    where = _where(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown field '{where}'"
    if kind == "missing":
        return f"'{where}' is required"
    if kind == "value_error":  # our own validators' messages are whole sentences already
        text = str(error["ctx"]["error"])
    elif kind in _PLAIN:
        text = f"{_PLAIN[kind]}, got {_got(error['input'])}"
        if kind in ("float_type", "int_type") and _numeric_text(error["input"]):
            text += " (text, not a number: YAML reads an exponent as a number only as in 1.0e+308)"
    elif kind in ("too_short", "string_too_short") and error["ctx"].get("min_length") == 1:
        text = "must not be empty"
    elif kind in _BOUNDS:
        bound = next(iter(error["ctx"].values()))
        text = f"must be {_BOUNDS[kind]} {f'{bound:g}' if isinstance(bound, float) else bound}, got {_got(error['input'])}"
    elif kind == "literal_error":
        text = f"must be {error['ctx']['expected']}, got {_got(error['input'])}"
    else:
        text = error["msg"][0].lower() + error["msg"][1:]
    return f"'{where}': {text}" if where else text


def check(model: type[D], body: Any, what: str, *, code: str = "InvalidArgument",
          error: Callable[[str], InvalidArgument] | None = None) -> D:
    """``body`` as a ``model``, or an `InvalidArgument` (or what ``error`` makes of the message)
    naming each field at fault, up to three."""
    fail = error or (lambda message: InvalidArgument(message, code=code))
    if not isinstance(body, dict):
        raise fail(f"{what} is a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for problem in exc.errors():  # a union's first member's complaint says enough
            text = describe(problem)
            if problem["type"] == "extra_forbidden" and len(problem["loc"]) == 1:
                text += f" (known: {', '.join(_names(model))})"
            problems.setdefault(_where(problem["loc"]), text)
        raise fail(f"{what}: {'; '.join(list(problems.values())[:3])}") from None


def _names(model: type[BaseModel]) -> list[str]:
    """The fields of ``model`` as clients write them."""
    return sorted(f.alias or name for name, f in model.model_fields.items())


def schema_for(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is a ``model`` (its schema in `/docs`),
    with the nested models written in place: a ``$ref`` into the schema's own ``$defs`` would
    not resolve inside the OpenAPI document."""
    schema = model.model_json_schema(by_alias=True)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


def inline(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every ``{"$ref": "#/$defs/X"}`` replaced by X (the documents are not recursive)."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk({**defs[ref[len("#/$defs/"):]], **{k: v for k, v in node.items() if k != "$ref"}})
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


__all__ = ["Document", "Duration", "check", "describe", "schema_for"]
