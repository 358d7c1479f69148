import { expect, test } from "@playwright/test";
import { getNote, noteUrl, putNote, typeInEditor, uniq, waitSaved } from "./helpers";

test("create, edit with autosave, reload a deep link, rename, move, delete to trash and restore", async ({ page, request }) => {
  const folder = uniq("Notes");
  await page.goto("/");
  await page.getByRole("button", { name: "New note", exact: true }).first().click();
  await page.getByLabel("Name or path").fill(`${folder}/First`);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/notes/${folder}/First\\.md$`));
  await expect(page.getByTestId("editor")).toBeVisible();

  await typeInEditor(page, "Hello from the browser\n\n**bold** text");
  await expect(page.getByTestId("save-state")).toHaveText(/Unsaved|Saving|Saved/);
  await waitSaved(page);
  await expect(page.getByTestId("preview").locator("strong")).toHaveText("bold");
  expect(await getNote(request, `${folder}/First.md`)).toContain("Hello from the browser");

  // A deep link reloads into the same note.
  await page.reload();
  await expect(page.getByTestId("preview")).toContainText("Hello from the browser");

  // Rename through the tree.
  await page.getByRole("button", { name: `Rename ${folder}/First.md` }).click();
  await page.getByLabel("New path").fill(`${folder}/Renamed`);
  await page.getByRole("button", { name: "Rename", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/notes/${folder}/Renamed\\.md$`));
  await expect(page.getByRole("link", { name: "Renamed", exact: true })).toBeVisible();

  // Move into a new folder (a rename to another folder).
  await page.getByRole("button", { name: "New folder" }).click();
  await page.getByLabel("Folder path").fill(`${folder}/Archive`);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByRole("button", { name: `Rename ${folder}/Renamed.md` }).click();
  await page.getByLabel("New path").fill(`${folder}/Archive/Renamed.md`);
  await page.getByRole("button", { name: "Rename", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/notes/${folder}/Archive/Renamed\\.md$`));
  expect(await getNote(request, `${folder}/Archive/Renamed.md`)).toContain("Hello from the browser");

  // Delete to the trash, restore, delete again and empty the trash.
  await page.getByRole("button", { name: `Delete ${folder}/Archive/Renamed.md` }).click();
  await page.getByRole("button", { name: "Move to trash" }).click();
  await expect(page).toHaveURL(/\/$/);
  await page.getByRole("link", { name: "Trash" }).click();
  await page.getByRole("button", { name: `Restore ${folder}/Archive/Renamed.md` }).click();
  await expect(page.getByRole("button", { name: `Restore ${folder}/Archive/Renamed.md` })).toHaveCount(0);
  expect(await getNote(request, `${folder}/Archive/Renamed.md`)).toContain("Hello from the browser");

  const del = await request.delete(`/api/notes/${folder}/Archive/Renamed.md`);
  expect(del.ok()).toBeTruthy();
  await page.reload();
  await page.getByRole("button", { name: `Delete ${folder}/Archive/Renamed.md forever` }).click();
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await expect(page.getByRole("button", { name: `Restore ${folder}/Archive/Renamed.md` })).toHaveCount(0);

  await putNote(request, `${folder}/Gone.md`, "bye");
  await request.delete(`/api/notes/${folder}/Gone.md`);
  await page.reload();
  await page.getByRole("button", { name: "Empty trash" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Empty trash" }).click();
  await expect(page.getByText("The trash is empty.")).toBeVisible();
});

test("a folder renames and deletes with its notes", async ({ page, request }) => {
  const folder = uniq("Folder");
  await putNote(request, `${folder}/Inner.md`, "# Inner\n");
  await page.goto(noteUrl(`${folder}/Inner.md`));
  await page.getByRole("button", { name: `Rename ${folder}`, exact: true }).click();
  await page.getByLabel("New path").fill(`${folder}-moved`);
  await page.getByRole("button", { name: "Rename", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/notes/${folder}-moved/Inner\\.md$`));
  await page.getByRole("button", { name: `Delete ${folder}-moved`, exact: true }).click();
  await page.getByRole("button", { name: "Move to trash" }).click();
  await expect(page.getByRole("button", { name: `Delete ${folder}-moved`, exact: true })).toHaveCount(0);
  const r = await request.get(`/api/notes/${folder}-moved/Inner.md`);
  expect(r.status()).toBe(404);
});

test("drag a note onto a folder in the tree to move it there; drag a folder into another", async ({ page, request }) => {
  const folder = uniq("Drag");
  await putNote(request, `${folder}/Moving.md`, "# Moving\n\ncarried by the mouse\n");
  await putNote(request, `${folder}/Target/Resident.md`, "# Resident\n");
  await putNote(request, `${folder}/Box/Inside.md`, "# Inside\n");
  await page.goto(noteUrl(`${folder}/Moving.md`));
  await expect(page.getByTestId("editor")).toBeVisible();
  const tree = page.getByRole("tree", { name: "Files" });
  const target = tree.getByRole("button", { name: /folder Target$/ });
  await expect(target).toBeVisible();

  await tree.getByRole("link", { name: "Moving", exact: true }).dragTo(target);
  // The open note follows its file, and the server has it at the new path only.
  await expect(page).toHaveURL(new RegExp(`/notes/${folder}/Target/Moving\\.md$`));
  expect(await getNote(request, `${folder}/Target/Moving.md`)).toContain("carried by the mouse");
  expect((await request.get(`/api/notes/${folder}/Moving.md`)).status()).toBe(404);

  // A folder dragged onto another folder moves with its notes.
  await tree.getByRole("button", { name: /folder Box$/ }).dragTo(tree.getByRole("button", { name: /folder Target$/ }));
  await expect.poll(async () => (await request.get(`/api/notes/${folder}/Target/Box/Inside.md`)).status()).toBe(200);
  expect((await request.get(`/api/notes/${folder}/Box/Inside.md`)).status()).toBe(404);
  // Dropping a folder into itself is refused without a request: nothing moves.
  await tree.getByRole("button", { name: /folder Target$/ }).dragTo(tree.getByRole("button", { name: /folder Box$/ }));
  expect(await getNote(request, `${folder}/Target/Resident.md`)).toContain("Resident");
});
