import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// Hashed file names under assets/ (served immutable by the server); no inline module preload
// polyfill script, so the page works under a CSP without inline scripts.
export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
  server: { proxy: { "/api": process.env.KRYTON_API ?? "http://127.0.0.1:3001" } },
});
