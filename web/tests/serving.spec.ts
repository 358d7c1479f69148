import { expect, test } from "@playwright/test";

test("the app at /, deep links, hashed assets, compression, CSP; /api stays JSON", async ({ request }) => {
  const root = await request.get("/");
  expect(root.status()).toBe(200);
  expect(root.headers()["content-type"]).toContain("text/html");
  const csp = root.headers()["content-security-policy"];
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain("unsafe-eval");
  expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
  const html = await root.text();
  expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);

  const deep = await request.get("/notes/Projects/Alpha.md");
  expect(deep.status()).toBe(200);
  expect(await deep.text()).toBe(html);

  const asset = html.match(/\/assets\/[^"]+\.js/)![0];
  const a = await request.get(asset, { headers: { "Accept-Encoding": "br, gzip" } });
  expect(a.status()).toBe(200);
  expect(a.headers()["cache-control"]).toContain("immutable");
  expect(a.headers()["content-type"]).toContain("javascript");
  expect(a.headers()["content-encoding"]).toBe("br");
  const gz = await request.get(asset, { headers: { "Accept-Encoding": "gzip" } });
  expect(gz.headers()["content-encoding"]).toBe("gzip");
  expect(await gz.text()).toBe(await a.text());
  expect((await request.get("/assets/nope-123.js")).status()).toBe(404);

  const api = await request.get("/api/definitely-not-a-route");
  expect(api.status()).toBe(404);
  expect(api.headers()["content-type"]).toContain("application/json");
  expect(typeof (await api.json()).error).toBe("string");
});
