#!/usr/bin/env python3
"""Regenerates the field tables of docs/documents.md from schemas/*.schema.json.

The unit test "config: docs/documents.md lists exactly the fields of the schemas" fails when a
field is added to or removed from a schema without the documentation following.
Usage: python3 schemas/docs.py
"""
import json
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
schemas = {p.name: json.loads(p.read_text()) for p in (root / "schemas").glob("*.schema.json")}


def resolve(node, file):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        target, _, pointer = ref.partition("#")
        file = target or file
        node = schemas[file]
        for part in [p for p in pointer.split("/") if p]:
            node = node[part]
    return node, file


def type_of(raw, node, file):
    if "const" in node:
        return "`" + json.dumps(node["const"]) + "`"
    if "enum" in node:
        return " \\| ".join("`" + str(v) + "`" for v in node["enum"])
    if "oneOf" in node and "type" not in node:
        types = []
        for alt in node["oneOf"]:
            if "enum" in alt:
                types += ["`" + v + "`" for v in alt["enum"]]
            elif "type" in alt:
                types.append(alt["type"])
        if types:
            return " \\| ".join(types)
        return "object"
    t = node.get("type", "")
    if isinstance(t, list):
        t = " \\| ".join(t)
    title = node.get("title")
    if t == "string" and "pattern" in node and title:
        t = title
    if t == "integer" and ("minimum" in node or "maximum" in node):
        t += " ({}..{})".format(node.get("minimum", ""), node.get("maximum", ""))
    if t == "array":
        items, _ = resolve(node.get("items", {}), file)
        t = "list of " + (items.get("title") or items.get("type", "values"))
    if t == "object" and isinstance(node.get("additionalProperties"), dict):
        vt = node["additionalProperties"].get("type", "values")
        t = "map of " + (" \\| ".join(vt) if isinstance(vt, list) else vt)
    return t


def rows(node, file, prefix, required, out):
    node, file = resolve(node, file)
    props = dict(node.get("properties", {}))
    for alt in node.get("oneOf", []):
        alt_node, alt_file = resolve(alt, file)
        for k, v in alt_node.get("properties", {}).items():
            props.setdefault(k, v)
    req = set(node.get("required", []))
    for name, raw in props.items():
        path = prefix + name if not prefix else prefix + "." + name
        child, child_file = resolve(raw, file)
        desc = raw.get("description") or child.get("description", "")
        default = raw.get("default", child.get("default"))
        default = "" if default is None else "`" + (default if isinstance(default, str) else json.dumps(default)) + "`"
        if name in req:
            default = "required"
        out.append("| `{}` | {} | {} | {} |".format(path, type_of(raw, child, child_file), default, desc.replace("|", "\\|")))
        rows(raw, file, path, req, out)


def table(kind):
    out = ["| Field | Type | Default | Description |", "|---|---|---|---|"]
    rows(schemas[kind + ".schema.json"], kind + ".schema.json", "", set(), out)
    return "\n".join(out)


doc_path = root / "docs" / "documents.md"
text = doc_path.read_text()
for kind in ["BackupPolicy", "Restore", "PointInTimeRecovery"]:
    begin = "<!-- fields:{} -->".format(kind)
    end = "<!-- /fields:{} -->".format(kind)
    a = text.index(begin) + len(begin)
    b = text.index(end)
    text = text[:a] + "\n" + table(kind) + "\n" + text[b:]
doc_path.write_text(text)
