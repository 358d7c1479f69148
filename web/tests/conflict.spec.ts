import { expect, test } from "@playwright/test";
import { getNote, noteUrl, putNote, typeInEditor, uniq, waitSaved } from "./helpers";

test("two pages edit one note: the second save gets a 412 and a choice, nothing is lost", async ({ page, context, request }) => {
  const path = `${uniq("Conflict")}/Shared.md`;
  await putNote(request, path, "# Shared\n\nbase\n");
  const other = await context.newPage();
  await page.goto(noteUrl(path));
  await other.goto(noteUrl(path));
  await expect(page.getByTestId("editor")).toContainText("base");
  await expect(other.getByTestId("editor")).toContainText("base");

  await typeInEditor(page, "\nfrom page one");
  await waitSaved(page);
  await typeInEditor(other, "\nfrom page two");
  const dialog = other.getByRole("dialog", { name: "This note changed elsewhere" });
  await expect(dialog).toBeVisible();
  await expect(other.getByTestId("save-state")).toHaveText(/Conflict/);
  await expect(dialog.getByLabel("Your version")).toHaveValue(/from page two/);
  await expect(dialog.getByLabel("Their version")).toHaveValue(/from page one/);
  // The server still has page one's text until the user chooses.
  expect(await getNote(request, path)).toContain("from page one");

  await dialog.getByRole("button", { name: "Keep my version" }).click();
  await waitSaved(other);
  const final = await getNote(request, path);
  expect(final).toContain("from page two");

  // Page one is now behind: its next save conflicts too, and taking theirs loads page two's text.
  await typeInEditor(page, "\nagain from one");
  const d1 = page.getByRole("dialog", { name: "This note changed elsewhere" });
  await d1.getByRole("button", { name: "Use their version" }).click();
  await expect(page.getByTestId("editor")).toContainText("from page two");
  expect(await getNote(request, path)).toBe(final);
  await other.close();
});

test("a conflict resolved by merging: both versions' lines in an editable text, saved as edited", async ({ page, context, request }) => {
  const path = `${uniq("Merge")}/Shared.md`;
  await putNote(request, path, "# Shared\n\nbase\n");
  const other = await context.newPage();
  await page.goto(noteUrl(path));
  await other.goto(noteUrl(path));
  await expect(page.getByTestId("editor")).toContainText("base");
  await expect(other.getByTestId("editor")).toContainText("base");

  await typeInEditor(page, "\nline from one");
  await waitSaved(page);
  await typeInEditor(other, "\nline from two");
  const dialog = other.getByRole("dialog", { name: "This note changed elsewhere" });
  await dialog.getByRole("button", { name: "Merge…" }).click();
  const merged = dialog.getByLabel(/Merged text/);
  await expect(merged).toHaveValue(/line from one/);
  await expect(merged).toHaveValue(/line from two/);
  // Nothing is saved until the user is done editing the merge.
  expect(await getNote(request, path)).not.toContain("line from two");
  await merged.fill(`${await merged.inputValue()}\nresolved by hand\n`);
  await dialog.getByRole("button", { name: "Save merged text" }).click();
  await expect(dialog).toHaveCount(0);
  await waitSaved(other);
  const final = await getNote(request, path);
  for (const line of ["base", "line from one", "line from two", "resolved by hand"]) expect(final).toContain(line);
  await expect(other.getByTestId("editor")).toContainText("resolved by hand");
  await other.close();
});
