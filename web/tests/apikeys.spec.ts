import { expect, test } from "@playwright/test";
import { uniq } from "./helpers";

test("an API key is shown once, works with its scope, and stops working when revoked", async ({ page, playwright, baseURL }) => {
  await page.goto("/settings");
  const name = uniq("reader");
  await page.getByRole("textbox", { name: "Name", exact: true }).fill(name);
  await page.getByLabel("Scope").selectOption("read-only");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByTestId("new-key").textContent())!.trim();
  expect(key).toMatch(/^kryton_[0-9a-f]{64}$/);
  await page.getByRole("button", { name: "Done" }).click();
  await expect(page.getByTestId("new-key")).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole("cell", { name, exact: true })).toBeVisible();
  await expect(page.getByText(key)).toHaveCount(0);

  const bearer = await playwright.request.newContext({ baseURL, extraHTTPHeaders: { Authorization: `Bearer ${key}` } });
  expect((await bearer.get("/api/notes")).status()).toBe(200);
  const write = await bearer.post("/api/notes", { data: { path: `${name}.md`, content: "x" } });
  expect(write.status()).toBe(403);

  await page.getByRole("button", { name: `Revoke ${name}` }).click();
  await page.getByRole("button", { name: "Revoke", exact: true }).click();
  await expect(page.getByRole("cell", { name, exact: true })).toHaveCount(0);
  expect((await bearer.get("/api/notes")).status()).toBe(401);
  await bearer.dispose();
});
