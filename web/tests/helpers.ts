import { expect, type APIRequestContext, type Browser, type Page } from "@playwright/test";

export const ADMIN = { name: "Ada Admin", email: "ada@example.test", password: "correct horse battery" };

/** A folder of its own per test, so tests never see each other's notes. */
export function uniq(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

export async function putNote(request: APIRequestContext, path: string, content: string) {
  const r = await request.post("/api/notes", { data: { path, content } });
  expect(r.status(), await r.text()).toBeLessThan(300);
}

export async function getNote(request: APIRequestContext, path: string): Promise<string> {
  const r = await request.get(`/api/notes/${path.split("/").map(encodeURIComponent).join("/")}`);
  expect(r.status()).toBe(200);
  return (await r.json()).content as string;
}

/** Types into the CodeMirror editor at the end of the document. */
export async function typeInEditor(page: Page, text: string) {
  const editor = page.getByTestId("editor");
  await editor.click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type(text);
}

export async function waitSaved(page: Page) {
  await expect(page.getByTestId("save-state")).toHaveText("Saved");
}

export const noteUrl = (path: string) => `/notes/${path.split("/").map(encodeURIComponent).join("/")}`;

/**
 * A fresh account in a browser context of its own (invited by the admin, signed up through the
 * API in that context, so its session cookie lives there): it starts with the first-run sample
 * vault and sees nothing the other tests wrote.
 */
export async function newUserContext(browser: Browser, admin: APIRequestContext, name = "Sam Sample") {
  const invite = await admin.post("/api/admin/invites", { data: {} });
  expect(invite.status(), await invite.text()).toBeLessThan(300);
  const code = (await invite.json()).code as string;
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const email = `${uniq("user").toLowerCase()}@example.test`;
  const r = await context.request.post("/api/auth/sign-up/email", {
    data: { email, password: "a fresh password", name, inviteCode: code },
  });
  expect(r.status(), await r.text()).toBeLessThan(300);
  const session = await context.request.get("/api/auth/get-session");
  expect((await session.json()).user?.email).toBe(email);
  return { context, email };
}

/** Every note path of the caller's vault (the tree flattened). */
export async function allPaths(request: APIRequestContext): Promise<string[]> {
  const r = await request.get("/api/notes");
  expect(r.status()).toBe(200);
  const out: string[] = [];
  const walk = (entries: { path: string; type: string; children?: unknown[] }[]) => {
    for (const e of entries) {
      out.push(e.path);
      if (e.children) walk(e.children as typeof entries);
    }
  };
  walk(await r.json());
  return out.sort();
}
