import { expect, test } from "@playwright/test";
import { getNote, noteUrl, putNote, typeInEditor, uniq, waitSaved } from "./helpers";

test("history shows a diff and restores an earlier version", async ({ page, request }) => {
  const f = uniq("History");
  const path = `${f}/Doc.md`;
  await putNote(request, path, "# Doc\n\nfirst version\n");
  await page.goto(noteUrl(path));
  await typeInEditor(page, "\nsecond version line");
  await waitSaved(page);
  await page.getByRole("button", { name: "History", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: `History of ${path}` });
  await dialog.getByRole("list", { name: "Versions" }).getByRole("button").first().click();
  await expect(dialog.getByTestId("diff").locator(".added")).toContainText("second version line");
  await dialog.getByRole("button", { name: "Restore this version" }).click();
  await expect(page.getByTestId("preview")).not.toContainText("second version line");
  expect(await getNote(request, path)).not.toContain("second version line");
  expect(await getNote(request, path)).toContain("first version");
});
