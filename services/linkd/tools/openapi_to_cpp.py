#!/usr/bin/env python3
"""Converts openapi.yaml to JSON: writes it as a file (for the contract tests) and as a C++
source defining linkd::openapi_json() (served at GET /openapi.json)."""
import json
import sys

import yaml

src, out_json, out_cpp = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    doc = yaml.safe_load(f)
text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
with open(out_json, "w", encoding="utf-8") as f:
    f.write(text)
delim = "keel_openapi"
assert ")" + delim + '"' not in text
with open(out_cpp, "w", encoding="utf-8") as f:
    f.write("// Generated from openapi.yaml by tools/openapi_to_cpp.py. Do not edit.\n")
    f.write("#include <string_view>\n\nnamespace linkd {\n")
    f.write("std::string_view openapi_json() {\n")
    f.write(f'    static constexpr std::string_view kJson = R"{delim}({text}){delim}";\n')
    f.write("    return kJson;\n}\n}  // namespace linkd\n")
