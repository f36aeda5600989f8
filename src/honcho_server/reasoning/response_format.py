"""`response_format` of the chat (spec 11.3): a JSON Schema turned into the pydantic model the answer must
validate against.

Supported: `string`, `number`, `integer`, `boolean`, `null`; objects with `properties` (and `required`,
`default`, `description`), objects without them (any keys; an `additionalProperties` schema types the values);
arrays with `items` (missing: any); `enum` and `const` of strings, integers, booleans and null; `anyOf` /
`oneOf`; `type` as a list; `$ref` to root-level `#/$defs/<name>` or `#/definitions/<name>` (inlined; recursive
references are refused). Refused with ValidationError("Invalid response_format: ..."): `allOf`, `not`,
`if`/`then`/`else`, `patternProperties`, `$defs`/`definitions` below the root, a root that is not an object,
more than 20 levels or 500 schema nodes. Constraint keywords (`minItems`, `maxLength`, `minimum`, `pattern`,
`format`...) are passed to the model as hints and not enforced.
"""

from __future__ import annotations

from types import GenericAlias
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from honcho_server.errors import ValidationError

MAX_DEPTH = 20
MAX_NODES = 500
_REFUSED = ("allOf", "not", "if", "then", "else", "patternProperties")
_SIMPLE: dict[str, Any] = {"string": str, "number": float, "integer": int, "boolean": bool, "null": type(None)}
# Keywords kept in the schema the model sees (hints), never enforced.
_HINTS = ("minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
          "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "examples", "title", "minProperties",
          "maxProperties")


def _as_written(hints: dict[str, Any], default_given: bool) -> Any:
    """The property's schema as the caller wrote it: its hints kept, a default only when it gave one."""

    def extra(schema: dict[str, Any]) -> None:
        if not default_given:
            schema.pop("default", None)
        schema.update(hints)

    return extra


class Invalid(ValidationError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid response_format: {reason}")


class _Converter:
    def __init__(self, root: dict[str, Any]) -> None:
        self.definitions: dict[str, Any] = {}
        for key in ("$defs", "definitions"):
            found = root.get(key, {})
            if not isinstance(found, dict):
                raise Invalid(f"{key} must be an object")
            self.definitions.update({f"#/{key}/{name}": schema for name, schema in found.items()})
        self.nodes = 0
        self.names: dict[str, int] = {}

    def model_name(self, hint: str) -> str:
        base = "".join(ch for ch in hint.title() if ch.isalnum()) or "Object"
        self.names[base] = self.names.get(base, 0) + 1
        return base if self.names[base] == 1 else f"{base}{self.names[base]}"

    def type_of(self, schema: Any, where: str, depth: int, refs: tuple[str, ...] = (), root: bool = False) -> Any:
        if schema is True or schema == {}:
            return Any
        self._check(schema, where, depth, root)
        if "$ref" in schema:
            return self._ref(schema["$ref"], where, depth, refs)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = schema[key]
                if not isinstance(options, list) or not options:
                    raise Invalid(f"{key} must be a non-empty list ({where})")
                return Union[tuple(self.type_of(o, f"{where}.{key}[{i}]", depth + 1, refs)  # noqa: UP007
                                   for i, o in enumerate(options))]
        if "enum" in schema or "const" in schema:
            return self._literal(schema, where)
        kind = schema.get("type")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else None
        if isinstance(kind, list):
            if not kind:
                raise Invalid(f"type must not be an empty list ({where})")
            return Union[tuple(self.type_of({**schema, "type": k}, where, depth, refs) for k in kind)]  # noqa: UP007
        return self._typed(kind, schema, where, depth, refs)

    def _check(self, schema: Any, where: str, depth: int, root: bool) -> None:
        if not isinstance(schema, dict):
            raise Invalid(f"{where} is not a schema object")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise Invalid(f"the schema has more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise Invalid(f"the schema is nested more than {MAX_DEPTH} levels deep")
        for key in _REFUSED:
            if key in schema:
                raise Invalid(f"'{key}' is not supported ({where})")
        if not root and ("$defs" in schema or "definitions" in schema):
            raise Invalid(f"$defs / definitions are only allowed at the root ({where})")

    def _typed(self, kind: Any, schema: dict[str, Any], where: str, depth: int, refs: tuple[str, ...]) -> Any:
        if kind is None:
            return Any
        if kind in _SIMPLE:
            return _SIMPLE[kind]
        if kind == "array":
            items = schema.get("items")
            # GenericAlias is what list[...] builds; spelled out because the item type is only known at run time.
            if items is None:
                return list[Any]
            return GenericAlias(list, (self.type_of(items, f"{where}[]", depth + 1, refs),))
        if kind == "object":
            return self._object(schema, where, depth, refs)
        raise Invalid(f"unknown type {kind!r} ({where})")

    def _ref(self, ref: Any, where: str, depth: int, refs: tuple[str, ...]) -> Any:
        if not isinstance(ref, str) or ref not in self.definitions:
            raise Invalid(f"$ref {ref!r} must point to a root-level #/$defs/<name> or #/definitions/<name> "
                          f"({where})")
        if ref in refs:
            raise Invalid(f"recursive $ref {ref!r} is not supported")
        return self.type_of(self.definitions[ref], ref, depth + 1, (*refs, ref))

    @staticmethod
    def _literal(schema: dict[str, Any], where: str) -> Any:
        values = schema["enum"] if "enum" in schema else [schema["const"]]
        if not isinstance(values, list) or not values:
            raise Invalid(f"enum must be a non-empty list ({where})")
        for value in values:
            if value is not None and not isinstance(value, str | int | bool):
                raise Invalid(f"enum values must be strings, integers, booleans or null ({where})")
        return Literal[tuple(values)]

    def _object(self, schema: dict[str, Any], where: str, depth: int, refs: tuple[str, ...]) -> Any:
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if not properties:
            if isinstance(extra, dict):
                return GenericAlias(dict, (str, self.type_of(extra, f"{where}.*", depth + 1, refs)))
            return dict[str, Any]
        if not isinstance(properties, dict):
            raise Invalid(f"properties must be an object ({where})")
        required = schema.get("required", [])
        if not isinstance(required, list):
            raise Invalid(f"required must be a list ({where})")
        fields: dict[str, Any] = {}
        for name, sub in properties.items():
            annotation = self.type_of(sub, f"{where}.{name}", depth + 1, refs)
            info = sub if isinstance(sub, dict) else {}
            hints = {k: info[k] for k in _HINTS if k in info}
            # An optional property keeps its type: null is only valid where the schema allows it. Left out, it
            # stays out of the answer (the reader's own default applies). The schema the model sees is the
            # caller's: no default the caller did not write (a model shown `"default": null` answers null).
            default: Any = ... if name in required else info.get("default")
            fields[name] = (annotation, Field(default, description=info.get("description"),
                                              json_schema_extra=_as_written(hints, "default" in info)))
        title = schema.get("title")
        if not isinstance(title, str):
            title = where.rsplit(".", 1)[-1]
        return create_model(self.model_name(title), __config__=ConfigDict(extra="ignore"),
                            __doc__=schema.get("description") if isinstance(schema.get("description"), str)
                            else None, **fields)


def output_model(schema: Any) -> type[BaseModel]:
    """The pydantic model a `response_format` describes; ValidationError (422) when it is outside the subset."""
    if not isinstance(schema, dict):
        raise Invalid("the schema must be a JSON object")
    converter = _Converter(schema)
    root = {k: v for k, v in schema.items() if k != "$schema"}
    target: Any = root
    if "$ref" in root:
        target = converter.definitions.get(root["$ref"]) if isinstance(root["$ref"], str) else None
    if not isinstance(target, dict) or target.get("type", "object" if "properties" in target else None) != "object":
        raise Invalid('the root must be an object schema ({"type": "object", ...})')
    model = converter.type_of(root, "answer", 0, root=True)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):  # an object without properties: any keys
        model = create_model("Answer", __config__=ConfigDict(extra="allow"))
    return model
