"""/api/docs: the OpenAPI document rendered as a page, on the server, with no external assets.

A small renderer of our own rather than a vendored Swagger UI: the one on PyPI
(swagger-ui-bundle) ships Swagger UI 4, which cannot read OpenAPI 3.1. This reads
the very document /api/v1/openapi.json serves, so the page cannot drift from it.
"""

from __future__ import annotations

from dataclasses import dataclass

CONSTRAINTS = (("minLength", "min length"), ("maxLength", "max length"), ("minimum", "≥"), ("maximum", "≤"),
               ("minItems", "min items"), ("maxItems", "max items"), ("pattern", "pattern"), ("format", "format"))


@dataclass
class Property:
    name: str
    type: str  # HTML-free text; references to other schemas are listed in refs
    refs: list[str]
    required: bool
    notes: str


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    anchor: str
    public: bool
    parameters: list[dict]
    body: str | None
    responses: list[tuple[str, str, str | None]]  # (status, description, schema name)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def describe_type(schema: dict) -> tuple[str, list[str]]:
    """('string or null', [referenced schema names]) for a property's schema."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return name, [name]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            parts, refs = [], []
            for sub in schema[key]:
                text, sub_refs = describe_type(sub)
                parts.append(text)
                refs += sub_refs
            return " or ".join(parts), refs
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"]), []
    if "const" in schema:
        return f"“{schema['const']}”", []
    kind = schema.get("type", "any")
    if kind == "array":
        text, refs = describe_type(schema.get("items", {}))
        return f"array of {text}", refs
    if isinstance(kind, list):
        return " or ".join(kind), []
    return kind, []


def _notes(schema: dict) -> str:
    bits = [schema["description"]] if schema.get("description") else []
    for sub in schema.get("anyOf", []):
        bits += [f"{label} {sub[key]}" for key, label in CONSTRAINTS if key in sub]
    bits += [f"{label} {schema[key]}" for key, label in CONSTRAINTS if key in schema]
    if "default" in schema and schema["default"] is not None:
        bits.append(f"default {schema['default']}")
    return "; ".join(str(b) for b in bits)


def properties(schema: dict) -> list[Property]:
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        text, refs = describe_type(prop)
        rows.append(Property(name, text, refs, name in required, _notes(prop)))
    return rows


def _schema_name(content: dict | None) -> str | None:
    if not content:
        return None
    schema = next(iter(content.values())).get("schema", {})
    return _ref_name(schema["$ref"]) if "$ref" in schema else None


def page_model(document: dict) -> dict:
    """Operations grouped by tag, and every component schema with its properties."""
    groups: dict[str, list[Operation]] = {}
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            parameters = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                           "type": describe_type(p.get("schema", {}))[0], "notes": p.get("description") or
                           _notes(p.get("schema", {}))} for p in op.get("parameters", [])]
            body = _schema_name(op.get("requestBody", {}).get("content")) if op.get("requestBody") else None
            responses = [(code, r.get("description", ""), _schema_name(r.get("content")))
                         for code, r in sorted(op["responses"].items())]
            groups.setdefault((op.get("tags") or ["other"])[0], []).append(Operation(
                method.upper(), path, op.get("summary", ""), op["operationId"], op.get("security") == [],
                parameters, body, responses))
    schemas = {name: {"properties": properties(s), "description": s.get("description", ""),
                      "enum": s.get("enum")} for name, s in sorted(document["components"]["schemas"].items())}
    return {"info": document["info"], "version": document["openapi"], "groups": groups, "schemas": schemas}
