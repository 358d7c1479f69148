import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test, type Page, type Response } from "@playwright/test";
import { allPaths, newUserContext } from "./helpers";

// Issue 19 item 8: a real page on another origin, opened in the same browser as a signed-in user,
// tries to change things in Kryton. Two attacker origins, because they test different defences:
//
// - http://localhost:P2 is another *site* than http://127.0.0.1:P (the hosts differ), so Chromium
//   keeps the SameSite=Lax session cookie off these cross-site POSTs: the server sees no session.
// - http://127.0.0.1:P2 is the *same site* (a site ignores the port) but another *origin*:
//   SameSite does not help there and the browser sends the session cookie along. Only the
//   server's Origin / Sec-Fetch-Site check stands between that page and the user's vault, and the
//   test checks the cookie really was sent, so a refusal here is the server's doing.
//
// Each attempt must be answered 403 and change nothing: no note made, no daily note, still signed in.

function attackerPages(kryton: string): Record<string, string> {
  const form = (action: string, enctype: string) =>
    `<!doctype html><title>prize</title><form method="POST" action="${kryton}${action}" enctype="${enctype}">` +
    `<input name="path" value="Pwned.md"><input name="content" value="owned"></form>` +
    `<script>document.forms[0].submit()</script>`;
  const fetchPage = (target: string, type: string, body: string) =>
    `<!doctype html><title>prize</title><script>
      fetch(${JSON.stringify(kryton + target)}, { method: "POST", credentials: "include", mode: "no-cors",
        headers: { "Content-Type": ${JSON.stringify(type)} }, body: ${JSON.stringify(body)} })
        .finally(() => { document.title = "sent"; });
    </script>`;
  return {
    "/daily-form": form("/api/daily", "application/x-www-form-urlencoded"),
    "/signout-form": form("/api/auth/sign-out", "application/x-www-form-urlencoded"),
    "/notes-form": form("/api/notes", "text/plain"),
    "/notes-fetch": fetchPage("/api/notes", "text/plain", JSON.stringify({ path: "Pwned fetch.md", content: "owned" })),
    "/daily-fetch": fetchPage("/api/daily", "text/plain", "{}"),
    "/upload-fetch": `<!doctype html><title>prize</title><script>
      const f = new FormData(); f.append("file", new Blob(["owned"], { type: "text/plain" }), "pwned.txt");
      fetch(${JSON.stringify(kryton + "/api/files")}, { method: "POST", credentials: "include", mode: "no-cors", body: f })
        .finally(() => { document.title = "sent"; });
    </script>`,
  };
}

let server: Server;
let port = 0;
let kryton = "";

test.beforeAll(async ({ baseURL }) => {
  kryton = new URL(baseURL!).origin;
  const pages = attackerPages(kryton);
  server = createServer((req, res) => {
    const body = pages[req.url ?? ""];
    res.writeHead(body ? 200 : 404, { "Content-Type": "text/html; charset=utf-8" });
    res.end(body ?? "not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
test.afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/**
 * Opens an attacker page and returns Kryton's answer to the request it makes. For a form (a
 * navigation) also the headers as sent (Origin, cookie); for a page's own `fetch` Chromium reports
 * only provisional headers (neither), so those two are checked on the forms, sent from the same
 * pages in the same browser context.
 */
async function attack(page: Page, origin: string, name: string): Promise<{ status: number; cookie?: boolean; sentOrigin?: string }> {
  const answered = page.waitForResponse((r: Response) => r.url().startsWith(kryton) && r.request().method() === "POST");
  await page.goto(`${origin}${name}`);
  const response = await answered;
  if (name.endsWith("-fetch")) return { status: response.status() };
  const headers = await response.request().allHeaders();
  return { status: response.status(), cookie: /(^|;\s*)kryton\.session_token=/.test(headers.cookie ?? ""), sentOrigin: headers.origin };
}

test("state-changing requests from a page on another origin are refused and change nothing", async ({ browser, request }) => {
  const { context } = await newUserContext(browser, request, "Csrf Target");
  const me = context.request;
  // Today's note comes with the sample vault: move it away so a forged /api/daily would show.
  const daily = (await allPaths(me)).find((p) => /^Daily\/\d{4}-\d{2}-\d{2}\.md$/.test(p))!;
  expect(daily).toBeTruthy();
  expect((await me.delete(`/api/notes/${daily}`)).status()).toBeLessThan(300);
  const before = await allPaths(me);
  expect(before).not.toContain(daily);

  const sameSite = `http://127.0.0.1:${port}`;
  const crossSite = `http://localhost:${port}`;
  const page = await context.newPage();
  for (const name of ["/daily-form", "/notes-form", "/notes-fetch", "/daily-fetch", "/upload-fetch", "/signout-form"]) {
    const same = await attack(page, sameSite, name);
    if (same.cookie !== undefined) expect(same.sentOrigin, name).toBe(sameSite);
    // Same site: the browser did send the session cookie; the server's origin check refused it.
    if (same.cookie !== undefined) expect(same.cookie, `${name}: the same-site request should carry the session cookie`).toBe(true);
    expect(same.status, `${name} from ${sameSite}`).toBe(403);

    const cross = await attack(page, crossSite, name);
    if (cross.cookie !== undefined) expect(cross.sentOrigin, name).toBe(crossSite);
    if (cross.cookie !== undefined) expect(cross.cookie, `${name}: SameSite=Lax keeps the cookie off a cross-site POST`).toBe(false);
    expect(cross.status, `${name} from ${crossSite}`).toBe(403);
  }

  // Nothing changed: same notes (no daily note, no Pwned notes), no upload, still signed in.
  expect(await allPaths(me)).toEqual(before);
  expect((await me.get("/api/files/attachments/pwned.txt")).status()).toBe(404);
  const session = await (await me.get("/api/auth/get-session")).json();
  expect(session.user?.name).toBe("Csrf Target");
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Welcome, Csrf Target" })).toBeVisible();

  // The same request from the app's own origin works: the refusals above were about the origin.
  const own = await page.evaluate(async () => (await fetch("/api/daily", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).status);
  expect(own).toBe(201);
  expect(await allPaths(me)).toContain(daily);
  await context.close();
});
