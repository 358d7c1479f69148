import { expect, test } from "@playwright/test";
import { noteUrl, putNote, uniq } from "./helpers";

test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

test("phone width: the menu opens the file tree, a note reads and edits", async ({ page, request }) => {
  const path = `${uniq("Phone")}/Pocket.md`;
  await putNote(request, path, "# Pocket\n\nSmall screen text.\n");
  await page.goto("/");
  const tree = page.getByRole("tree", { name: "Files" });
  await expect(tree).toBeHidden();
  await page.getByRole("button", { name: "Menu" }).click();
  await expect(tree).toBeVisible();
  await page.goto(noteUrl(path));
  await expect(page.getByTestId("preview")).toContainText("Small screen text.");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(390);
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  await expect(page.getByTestId("editor")).toBeVisible();
});
