import { expect, test } from "@playwright/test";
import { noteUrl, putNote, uniq } from "./helpers";

async function starredSetting(request: import("@playwright/test").APIRequestContext): Promise<string[]> {
  const r = await request.get("/api/settings");
  expect(r.status()).toBe(200);
  const value = (await r.json()).starred as string | undefined;
  return value ? (JSON.parse(value) as string[]) : [];
}

// Favourites live in the `starred` setting as a JSON array of paths (the original client's shape),
// so they follow the user to another browser; a renamed note keeps its star.
test("star a note, see it under Favourites after a reload, rename it, unstar it", async ({ page, request }) => {
  const folder = uniq("Fav");
  const path = `${folder}/Starred.md`;
  await putNote(request, path, "# Starred\n\nworth keeping close\n");
  await page.goto(noteUrl(path));
  const favourites = page.getByTestId("favourites");
  const star = page.getByRole("button", { name: "Favourite" });
  await expect(star).toHaveAttribute("aria-pressed", "false");
  await star.click();
  await expect(star).toHaveAttribute("aria-pressed", "true");
  await expect(favourites.getByRole("link", { name: "Starred" })).toBeVisible();
  await expect.poll(() => starredSetting(request)).toContain(path);

  // It survives a reload (read back from the server, not from this page's memory).
  await page.goto("/");
  await expect(page.getByTestId("favourites").getByRole("link", { name: "Starred" })).toBeVisible();
  await page.getByTestId("favourites").getByRole("link", { name: "Starred" }).click();
  await expect(page).toHaveURL(new RegExp(`${noteUrl(path).replace(/\./g, "\\.")}$`));

  // Renamed through the tree: the star follows the note.
  await page.getByRole("button", { name: `Rename ${path}` }).click();
  await page.getByLabel("New path").fill(`${folder}/Kept`);
  await page.getByRole("button", { name: "Rename", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/notes/${folder}/Kept\\.md$`));
  await expect(page.getByTestId("favourites").getByRole("link", { name: "Kept" })).toBeVisible();
  await expect(page.getByTestId("favourites").getByRole("link", { name: "Starred" })).toHaveCount(0);
  await expect.poll(() => starredSetting(request)).toContain(`${folder}/Kept.md`);
  expect(await starredSetting(request)).not.toContain(path);

  // Unstar: gone from the sidebar and from the setting, also after a reload.
  await page.getByRole("button", { name: "Favourite" }).click();
  await expect(page.getByRole("button", { name: "Favourite" })).toHaveAttribute("aria-pressed", "false");
  await expect.poll(() => starredSetting(request)).not.toContain(`${folder}/Kept.md`);
  await page.reload();
  await expect(page.getByTestId("favourites").getByRole("link", { name: "Kept" })).toHaveCount(0);
});
