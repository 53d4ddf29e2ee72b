#!/usr/bin/env node
// The `tec-hub` command: runs the compiled hub (dist/, made by `npm run build`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = new URL("../dist/hub/src/cli.js", import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error(`✗ tec-hub is not built: run \`npm run build\` in ${fileURLToPath(new URL("..", import.meta.url))}`);
  process.exit(1);
}
await import(cli.href);
