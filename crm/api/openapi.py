"""The OpenAPI 3.1 document, built from the same pydantic models that validate requests."""

from __future__ import annotations

import re

from flask import jsonify

from crm.api.blueprint import SPECS, api_bp

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}

STANDARD_ERRORS = {
    400: "Malformed request",
    401: "Missing or unknown token",
    404: "No such record, or not visible to this token's user",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Validation failed; `fields` maps each field path to what is wrong",
}


def _collect(model, components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _collect_output(model, components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_document() -> dict:
    components: dict = {"Error": ERROR_SCHEMA}
    paths: dict = {}
    for spec in SPECS:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", spec.rule)
        op: dict = {
            "summary": spec.summary,
            "tags": spec.tags,
            "operationId": f"{spec.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
            "responses": {},
        }
        params = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "integer"} if f"<int:{name}>" in spec.rule else {"type": "string"}}
            for name in re.findall(r"<(?:\w+:)?(\w+)>", spec.rule)
        ]
        if spec.query is not None:
            qschema = spec.query.model_json_schema()
            required = set(qschema.get("required", []))
            for name, prop in qschema.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        params += spec.headers
        if params:
            op["parameters"] = params
        if spec.body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": _collect(spec.body, components)}}}
        elif spec.raw_body is not None:
            op["requestBody"] = spec.raw_body
        ok: dict = {"description": "OK"}
        if spec.response is not None:
            ok["content"] = {"application/json": {"schema": _collect_output(spec.response, components)}}
        op["responses"][str(spec.status)] = ok
        codes = dict(STANDARD_ERRORS) if not spec.public else {400: STANDARD_ERRORS[400], 413: STANDARD_ERRORS[413]}
        if spec.body is None and spec.raw_body is None:
            codes.pop(413, None)
            codes.pop(415, None)
        codes.update(spec.responses)
        for code, description in codes.items():
            if code < 300:  # another success (e.g. 204 No Content): no error body
                op["responses"].setdefault(str(code), {"description": description})
                continue
            op["responses"].setdefault(str(code), {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            })
        if not spec.public:
            op["security"] = [{"bearer": []}]
        else:
            op["security"] = []
        paths.setdefault(path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Touchline API", "version": "1.0.0",
                 "description": "Leads, contacts, touches, tasks, the queue, hand-offs and reports. "
                                "Errors are always {\"error\": {\"code\", \"message\", \"fields\"}}."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


@api_bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_document())

