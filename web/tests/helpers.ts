import { expect, type APIRequestContext, type Page } from "@playwright/test";

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
