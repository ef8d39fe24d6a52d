#!/usr/bin/python3
"""Compares linkd's hand-written contract (openapi.yaml as JSON) with the document keel derives
from linkd's routes and types, and prints every difference (exit 1 if any):

    compare_contract.py <openapi.json from openapi.yaml> <generated.json>

Compared: the operations (method and path), each one's operationId, status codes, security
(public or API key), path, query and header parameter names, and the request and 2xx response bodies'
shapes: property names, types (after resolving $refs and setting "or null" aside) and required
members. A member the code writes as null when empty may be required-and-nullable in the
contract while the code's schema calls it optional. Descriptions, examples, formats and value
constraints are the contract's own (the code's rules are checked by the API tests against it).
"""
import json
import sys

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def resolve(doc, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = doc["components"]["schemas"][name]
    return schema


def strip_null(doc, schema):
    """(schema without its "or null", whether null was allowed)."""
    schema = resolve(doc, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [resolve(doc, s) for s in schema[key]]
            rest = [s for s in options if s.get("type") != "null"]
            if len(rest) == 1:
                return resolve(doc, rest[0]), len(rest) < len(options)
    t = schema.get("type")
    if isinstance(t, list) and "null" in t:
        others = [x for x in t if x != "null"]
        return dict(schema, type=others[0] if len(others) == 1 else others), True
    return schema, False


def shape_diff(where, a_doc, a, b_doc, b, response, out):
    a, _ = strip_null(a_doc, a)
    b, _ = strip_null(b_doc, b)
    ta, tb = a.get("type", "object" if "properties" in a else None), b.get("type", "object" if "properties" in b else None)
    if ta != tb:
        out.append(f"{where}: type {ta} in the contract, {tb} in the code")
        return
    if ta == "array":
        shape_diff(where + "[]", a_doc, a.get("items", {}), b_doc, b.get("items", {}), response, out)
    if ta != "object":
        return
    pa, pb = a.get("properties", {}), b.get("properties", {})
    if set(pa) != set(pb) and pb:  # a free-form object in the code ({"type":"object"}) is not compared
        out.append(f"{where}: properties {sorted(pa)} in the contract, {sorted(pb)} in the code")
        return
    ra, rb = set(a.get("required", [])), set(b.get("required", []))
    if response:
        # Written as null when empty: required-and-nullable in the contract, optional in the code.
        extra = {m for m in ra - rb if strip_null(a_doc, pa.get(m, {}))[1]}
        ra -= extra
    if ra != rb and pb:
        out.append(f"{where}: required {sorted(ra)} in the contract, {sorted(rb)} in the code")
    for name in pa:
        if name in pb:
            shape_diff(f"{where}.{name}", a_doc, pa[name], b_doc, pb[name], response, out)


def operations(doc):
    """(METHOD, path) → the operation, with the path item's parameters merged into its own."""
    ops = {}
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                op = dict(item[method])
                op["parameters"] = item.get("parameters", []) + op.get("parameters", [])
                ops[(method.upper(), path)] = op
    return ops


def body_schema(doc, holder):
    holder = resolve_response(doc, holder)
    for media in ("application/json",):
        if media in holder.get("content", {}):
            return holder["content"][media].get("schema")
    return None


def resolve_response(doc, r):
    if "$ref" in r:
        kind, name = r["$ref"].split("/")[-2:]
        return doc["components"][kind][name]
    return r


def main():
    contract = json.load(open(sys.argv[1]))
    code = json.load(open(sys.argv[2]))
    out = []
    a_ops, b_ops = operations(contract), operations(code)
    for missing in sorted(set(a_ops) - set(b_ops)):
        out.append(f"{missing[0]} {missing[1]}: in the contract, not in the code")
    for extra in sorted(set(b_ops) - set(a_ops)):
        out.append(f"{extra[0]} {extra[1]}: in the code, not in the contract")
    default_security = contract.get("security", [])
    for key in sorted(set(a_ops) & set(b_ops)):
        a, b = a_ops[key], b_ops[key]
        where = f"{key[0]} {key[1]}"
        if a.get("operationId") != b.get("operationId"):
            out.append(f"{where}: operationId {a.get('operationId')} / {b.get('operationId')}")
        if set(a["responses"]) != set(b["responses"]):
            out.append(f"{where}: statuses {sorted(a['responses'])} in the contract, {sorted(b['responses'])} in the code")
        public_a = a.get("security", default_security) == []
        public_b = b.get("security", []) == []
        if public_a != public_b:
            out.append(f"{where}: {'public' if public_a else 'needs a key'} in the contract, "
                       f"{'public' if public_b else 'needs a key'} in the code")
        def params(doc, op, kinds):
            names = set()
            for p in op.get("parameters", []):
                p = resolve_response(doc, p)
                if p["in"] in kinds:
                    names.add((p["in"], p["name"]))
            return names
        kinds = ("path", "query", "header")
        if params(contract, a, kinds) != params(code, b, kinds):
            out.append(f"{where}: parameters {sorted(params(contract, a, kinds))} in the contract, "
                       f"{sorted(params(code, b, kinds))} in the code")
        ra = a.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        rb = b.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if (ra is None) != (rb is None):
            out.append(f"{where}: request body in {'the contract' if ra else 'the code'} only")
        elif ra is not None:
            shape_diff(f"{where} request", contract, ra, code, rb, False, out)
        for status in sorted(set(a["responses"]) & set(b["responses"])):
            if not status.startswith("2"):
                continue
            sa, sb = body_schema(contract, a["responses"][status]), body_schema(code, b["responses"][status])
            if (sa is None) != (sb is None):
                out.append(f"{where} {status}: a JSON body in {'the contract' if sa else 'the code'} only")
            elif sa is not None:
                shape_diff(f"{where} {status}", contract, sa, code, sb, True, out)
    for line in out:
        print(line)
    print(f"compared {len(set(a_ops) & set(b_ops))} operations: {len(out)} differences")
    sys.exit(1 if out else 0)


if __name__ == "__main__":
    main()
