import { expect, test } from "@playwright/test";
import { getNote, putNote, uniq } from "./helpers";

test("Today opens the daily note, the same one twice", async ({ page }) => {
  await page.goto("/");
  await page.getByRole("button", { name: "Today", exact: true }).click();
  await expect(page).toHaveURL(/\/notes\/.*\d{4}-\d{2}-\d{2}\.md$/);
  const first = page.url();
  await page.goto("/");
  await page.getByRole("button", { name: "Today", exact: true }).click();
  await expect(page).toHaveURL(first);
});

test("a new note from a template starts with the template's text", async ({ page, request }) => {
  const stem = uniq("Meeting");
  await putNote(request, `Templates/${stem}.md`, "# Meeting\n\n## Attendees\n\n## Decisions\n");
  const templates = await (await request.get("/api/templates")).json();
  const list = (Array.isArray(templates) ? templates : templates.templates) as (string | { name: string })[];
  const names = list.map((t) => (typeof t === "string" ? t : t.name));
  const name = names.find((n) => n.includes(stem))!;
  const content = (await (await request.get(`/api/templates/${encodeURIComponent(name)}`)).json()).content as string;
  const path = `${uniq("Templated")}/From template`;
  await page.goto("/");
  await page.getByRole("button", { name: "New note", exact: true }).first().click();
  await page.getByLabel("Name or path").fill(path);
  await page.getByLabel("Template", { exact: true }).selectOption(name);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await expect(page.getByTestId("editor")).toBeVisible();
  expect(await getNote(request, `${path}.md`)).toBe(content);
});
