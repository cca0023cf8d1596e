// make asyncapi: asyncapi.yaml parsed and validated by AsyncAPI's own parser
// (the spec's JSON Schema and its Spectral rules). Any error fails; warnings
// are printed.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"));
const severities = ["error", "warning", "info", "hint"];
for (const d of diagnostics) {
  console.log(`${severities[d.severity]}: ${d.message} at ${d.path.join(".")}`);
}
const errors = diagnostics.filter((d) => d.severity === 0);
if (!document || errors.length > 0) {
  console.log(`asyncapi: ${errors.length} error(s) in ${path}`);
  process.exit(1);
}
const messages = document.allMessages().length;
console.log(`asyncapi: ${path} is a valid AsyncAPI ${document.version()} document with ${messages} messages`);
