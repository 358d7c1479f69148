// Precompresses the built files (gzip and brotli at their best levels) so the server sends the
// smallest form the browser accepts without compressing anything per request.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const root = new URL("../dist/", import.meta.url).pathname;
const worth = /\.(js|css|html|svg|json|txt|map|wasm)$/;
let count = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (worth.test(name)) {
      const data = readFileSync(path);
      if (data.length < 512) continue;
      writeFileSync(path + ".gz", gzipSync(data, { level: 9 }));
      writeFileSync(
        path + ".br",
        brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      );
      count++;
    }
  }
}
walk(root);
console.log(`compress: ${count} files precompressed (gzip, brotli)`);
