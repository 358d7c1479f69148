// Web app benchmark (not a pass/fail test): bundle size, time to show a note after a click, and
// graph draw time on a generated vault of 4,000 notes and ~18,000 links, in Debian's Chromium
// against a running server (KRYTON_URL). Each timing is reported next to a baseline measured in
// the same run on the same machine (the bare API request behind it), as a ratio.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { chromium } from "@playwright/test";

const url = process.env.KRYTON_URL ?? "http://127.0.0.1:3001";
const NOTES = Number(process.env.BENCH_NOTES ?? 4000);
const LINKS_PER_NOTE = Number(process.env.BENCH_LINKS ?? 4.5);
const CLICKS = Number(process.env.BENCH_CLICKS ?? 20);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

// ---- bundle ------------------------------------------------------------------------------------
const dist = new URL("../dist/", import.meta.url).pathname;
const html = readFileSync(dist + "index.html", "utf8");
const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
const gz = (f) => gzipSync(readFileSync(dist + f), { level: 9 }).length;
const initialJs = initial.filter((f) => f.endsWith(".js")).reduce((s, f) => s + gz(f), 0);
console.log(`bundle: initial JS ${kb(initialJs)} gzipped (${initial.join(", ")})`);
for (const f of readdirSync(dist + "assets").filter((f) => f.endsWith(".js") && !initial.includes(`assets/${f}`))) {
  console.log(`bundle: lazy chunk ${f} ${kb(gz(`assets/${f}`))} gzipped`);
}

// ---- vault -------------------------------------------------------------------------------------
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const context = await browser.newContext({ baseURL: url, viewport: { width: 1400, height: 900 } });
const request = context.request;
const email = `bench${Date.now()}@example.test`;
let r = await request.post("/api/auth/sign-up/email", { data: { email, password: "benchmark password", name: "Bench" } });
if (!r.ok()) throw new Error(`sign-up failed: ${r.status()} ${await r.text()} (run on a fresh server)`);
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const name = (i) => `Bench/F${i % 40}/Note ${i}`;
const started = Date.now();
for (let i = 0; i < NOTES; i += 50) {
  await Promise.all(
    Array.from({ length: Math.min(50, NOTES - i) }, (_, k) => {
      const n = i + k;
      const links = Array.from({ length: Math.round(LINKS_PER_NOTE) }, () => `[[${name(Math.floor(rand() * NOTES))}]]`);
      const content = `# Note ${n}\n\nSome text about topic ${n % 97}. ${links.join(" ")}\n\n#bench #t${n % 20}\n`;
      return request.post("/api/notes", { data: { path: `${name(n)}.md`, content } }).then((x) => {
        if (!x.ok()) throw new Error(`create ${n}: ${x.status()}`);
      });
    }),
  );
}
console.log(`vault: ${NOTES} notes with ${Math.round(LINKS_PER_NOTE)} links each written in ${((Date.now() - started) / 1000).toFixed(1)} s`);

// ---- note after click --------------------------------------------------------------------------
const page = await context.newPage();
const clicks = [];
const apiReads = [];
for (let i = 0; i < CLICKS; i++) {
  const from = name(i * 7), to = name(i * 7 + 1);
  await request.put(`/api/notes/${encodeURI(from)}.md`, { data: { content: `# From ${i}\n\n[[${to}]]\n` } });
  await page.goto(`/notes/${encodeURI(from)}.md`);
  const link = page.getByTestId("preview").locator("a.wikilink").first();
  await link.waitFor();
  const t0 = Date.now();
  await link.click();
  await page.getByTestId("preview").getByText(`Note ${i * 7 + 1}`, { exact: false }).first().waitFor();
  clicks.push(Date.now() - t0);
  const a0 = Date.now();
  await request.get(`/api/notes/${encodeURI(to)}.md`);
  apiReads.push(Date.now() - a0);
}
const click = median(clicks), read = Math.max(1, median(apiReads));
console.log(`note: shown ${click} ms after the click (median of ${CLICKS}); bare GET /api/notes ${read} ms; ratio ${(click / read).toFixed(1)}x`);

// ---- typing in a long note ----------------------------------------------------------------------
// Keystroke to the next painted frame, measured in the page (keydown, then a frame, then a task),
// in a 5,000-line note and, as the baseline, in a 10-line note, both in the default split view.
const LINES = Number(process.env.BENCH_LINES ?? 5000);
const KEYS = Number(process.env.BENCH_KEYS ?? 60);
async function typingLatency(lines) {
  const path = `Bench/Typing ${lines}.md`;
  const body = Array.from({ length: lines }, (_, i) => (i % 10 === 0 ? `## Section ${i / 10}` : `Line ${i} with some **bold** words, a [[Note ${i}]] link and #tag${i % 7}.`));
  await request.post("/api/notes", { data: { path, content: body.join("\n") + "\n" } });
  await page.goto(`/notes/${encodeURI(path)}`);
  await page.getByTestId("editor").waitFor();
  await page.getByTestId("editor").click();
  await page.keyboard.press("Control+End");
  await page.evaluate(() => {
    window.__lat = [];
    document.addEventListener("keydown", () => {
      const t0 = performance.now();
      requestAnimationFrame(() => setTimeout(() => window.__lat.push(performance.now() - t0), 0));
    }, true);
  });
  await page.keyboard.type("typed quickly ".repeat(Math.ceil(KEYS / 14)).slice(0, KEYS), { delay: 40 });
  await page.waitForTimeout(300);
  const lat = await page.evaluate(() => window.__lat);
  return { median: median(lat), p95: [...lat].sort((a, b) => a - b)[Math.floor(lat.length * 0.95)] };
}
const small = await typingLatency(10);
const big = await typingLatency(LINES);
console.log(`typing: ${LINES}-line note: keystroke to frame median ${big.median.toFixed(1)} ms, p95 ${big.p95.toFixed(1)} ms; 10-line note median ${small.median.toFixed(1)} ms, p95 ${small.p95.toFixed(1)} ms; ratio ${(big.median / Math.max(1, small.median)).toFixed(1)}x`);

// ---- graph -------------------------------------------------------------------------------------
const a0 = Date.now();
const graphBody = await (await request.get("/api/graph")).json();
const graphApi = Date.now() - a0;
const t0 = Date.now();
await page.goto("/graph");
await page.getByTestId("graph-info").getByText(/notes, \d+ links/).waitFor({ timeout: 120_000 });
const wall = Date.now() - t0;
const draw = Number(await page.getByTestId("graph").getAttribute("data-draw-ms"));
// Interactivity: frames rendered while zooming with the mouse wheel for one second.
const box = await page.getByTestId("graph").boundingBox();
await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
const framesP = page.evaluate(() => new Promise((resolve) => {
  let n = 0; const end = performance.now() + 1000;
  const tick = () => (performance.now() < end ? (n++, requestAnimationFrame(tick)) : resolve(n));
  requestAnimationFrame(tick);
}).then((n) => n));
for (let i = 0; i < 10; i++) await page.mouse.wheel(0, i % 2 ? 300 : -300);
const frames = await framesP;
console.log(`graph: ${graphBody.nodes.length} nodes, ${graphBody.edges.length} edges; layout+draw ${draw.toFixed(0)} ms; page to drawn ${wall} ms; bare GET /api/graph ${graphApi} ms; ratio ${(wall / Math.max(1, graphApi)).toFixed(1)}x; ${frames} frames in 1 s while zooming`);
await browser.close();
