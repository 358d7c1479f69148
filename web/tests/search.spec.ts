import { expect, test } from "@playwright/test";
import { putNote, uniq } from "./helpers";

test("Ctrl+K searches with snippets; Ctrl+P switches notes by name", async ({ page, request }) => {
  const f = uniq("Search");
  const word = `zebra${Date.now().toString(36)}`;
  await putNote(request, `${f}/Animals.md`, `# Animals\n\nA paragraph about the ${word} in the savanna.\n`);
  await putNote(request, `${f}/Plants.md`, "# Plants\n\nNothing here.\n");
  await page.goto("/");
  await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
  await page.keyboard.press("Control+k");
  const search = page.getByRole("dialog", { name: "Search" });
  await search.getByLabel("Search notes").fill(word);
  const hit = search.getByRole("option").first();
  await expect(hit).toContainText("Animals");
  await expect(hit).toContainText("savanna");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/notes/${f}/Animals\\.md$`));

  await page.keyboard.press("Control+p");
  const switcher = page.getByRole("dialog", { name: "Open note" });
  await switcher.getByLabel("Note name").fill(`${f}/Pla`);
  await expect(switcher.getByRole("option")).toHaveCount(1);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/notes/${f}/Plants\\.md$`));
});
