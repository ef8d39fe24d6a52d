// Validates recorded HTTP exchanges against an OpenAPI 3.1 contract.
//
//   node validate.mjs openapi.json exchanges.jsonl [more.jsonl ...]
//
// Each line of an exchanges file is {"method","path","status","content_type","body"}. For every
// exchange: the path and method must be a documented operation, the status a documented
// response, the content type one the response declares, and the body must satisfy that
// response's JSON Schema (Ajv, draft 2020-12, formats checked). A response documented without
// content must have an empty body. Exits 1 listing every mismatch.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [specFile, ...logFiles] = process.argv.slice(2);
if (!specFile || logFiles.length === 0) {
  console.error("usage: node validate.mjs openapi.json exchanges.jsonl [...]");
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specFile, "utf8"));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(spec, "contract"); // every schema is reachable as contract#/json/pointer

const pointer = (...tokens) => tokens.map((t) => "/" + String(t).replaceAll("~", "~0").replaceAll("/", "~1")).join("");

// Templates with fewer parameters first, so /healthz wins over /{slug}.
const routes = Object.keys(spec.paths)
  .map((template) => ({
    template,
    params: (template.match(/\{/g) || []).length,
    re: new RegExp("^" + template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^}]+\\?\}/g, "[^/]+") + "$"),
  }))
  .sort((a, b) => a.params - b.params);

function resolve(obj, base) {
  // A $ref to a component: returns [object, pointer of that object].
  if (obj && obj.$ref) {
    const ptr = obj.$ref.replace(/^#/, "");
    let target = spec;
    for (const t of ptr.split("/").slice(1)) target = target[t.replaceAll("~1", "/").replaceAll("~0", "~")];
    return [target, ptr];
  }
  return [obj, base];
}

const failures = [];
const seen = new Map(); // "METHOD template status" → count
let checked = 0;
for (const file of logFiles) {
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
  for (const line of lines) {
    const ex = JSON.parse(line);
    checked++;
    const where = `${ex.method} ${ex.path} → ${ex.status}`;
    const route = routes.find((r) => r.re.test(ex.path) && spec.paths[r.template][ex.method.toLowerCase()]);
    if (!route) {
      failures.push(`${where}: no documented operation matches`);
      continue;
    }
    const op = spec.paths[route.template][ex.method.toLowerCase()];
    const statusKey = String(ex.status);
    const key = [statusKey, statusKey[0] + "XX", "default"].find((k) => op.responses[k]);
    if (!key) {
      failures.push(`${where}: status ${ex.status} is not documented for ${ex.method} ${route.template}`);
      continue;
    }
    seen.set(`${ex.method} ${route.template} ${key}`, (seen.get(`${ex.method} ${route.template} ${key}`) || 0) + 1);
    const [response, responsePtr] = resolve(
      op.responses[key],
      pointer("paths", route.template, ex.method.toLowerCase(), "responses", key),
    );
    if (!response.content) {
      if (ex.body !== "") failures.push(`${where}: documented without a body, but one was sent: ${ex.body.slice(0, 200)}`);
      continue;
    }
    const mediaType = (ex.content_type || "").split(";")[0].trim();
    if (!response.content[mediaType]) {
      failures.push(`${where}: content type "${mediaType}" is not one of ${Object.keys(response.content).join(", ")}`);
      continue;
    }
    let body;
    try {
      body = JSON.parse(ex.body);
    } catch (e) {
      failures.push(`${where}: body is not JSON: ${ex.body.slice(0, 200)}`);
      continue;
    }
    const schemaRef = "contract#" + responsePtr + pointer("content", mediaType, "schema");
    const validate = ajv.getSchema(schemaRef);
    if (!validate) {
      failures.push(`${where}: cannot compile the schema at ${schemaRef}`);
      continue;
    }
    if (!validate(body)) {
      failures.push(`${where}: ${ajv.errorsText(validate.errors)}\n    body: ${ex.body.slice(0, 300)}`);
    }
  }
}

for (const [k, n] of [...seen.entries()].sort()) console.log(`  ${String(n).padStart(4)}  ${k}`);
console.log(`${checked} exchanges checked against ${specFile}: ${failures.length} mismatches`);
for (const f of failures) console.log("MISMATCH " + f);
process.exit(failures.length === 0 ? 0 : 1);
