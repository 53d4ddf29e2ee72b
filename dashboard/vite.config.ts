import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// Everything is bundled into dist/: the dashboard makes no request outside the hub.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  logLevel: "warn",
});
