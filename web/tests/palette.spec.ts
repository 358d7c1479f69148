import { expect, test } from "@playwright/test";
import { noteUrl, putNote, uniq } from "./helpers";

// The command palette (Ctrl+Shift+P, next to search on Ctrl+K and the switcher on Ctrl+P): every
// action by name, driven from the keyboard alone.
test("command palette: filter, arrows and Enter run actions; it does not steal Ctrl+K or Ctrl+P", async ({ page, request }) => {
  const path = `${uniq("Palette")}/Target.md`;
  await putNote(request, path, "# Target\n");
  await page.goto("/");
  await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
  const palette = page.getByRole("dialog", { name: "Commands" });

  await page.keyboard.press("Control+Shift+P");
  await expect(palette).toBeVisible();
  await expect(palette.getByRole("combobox", { name: "Command" })).toBeFocused();
  await page.keyboard.type("graph");
  await expect(palette.getByRole("option")).toHaveCount(1);
  await page.keyboard.press("Enter");
  await expect(palette).toHaveCount(0);
  await expect(page).toHaveURL(/\/graph$/);

  // Toggle the theme, twice, back to where it was.
  const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
  const before = await theme();
  await page.keyboard.press("Control+Shift+P");
  await page.keyboard.type("theme");
  await page.keyboard.press("Enter");
  await expect.poll(theme).not.toBe(before);
  await page.keyboard.press("Control+Shift+P");
  await page.keyboard.type("toggle theme");
  await page.keyboard.press("Enter");
  await expect.poll(theme).toBe(before);

  // Arrow keys choose: "go to" lists several; the second one runs.
  await page.keyboard.press("Control+Shift+P");
  await page.keyboard.type("go to");
  const options = palette.getByRole("option");
  const second = (await options.nth(1).textContent())!;
  await page.keyboard.press("ArrowDown");
  await expect(options.nth(1)).toHaveAttribute("aria-selected", "true");
  await page.keyboard.press("Enter");
  const expected = /trash/i.test(second) ? /\/trash$/ : /settings/i.test(second) ? /\/settings$/ : /\/admin$/;
  await expect(page).toHaveURL(expected);

  // An action that opens a dialog, Escape closes the palette, and a note-only command.
  await page.keyboard.press("Control+Shift+P");
  await page.keyboard.type("new note");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("dialog", { name: "New note" })).toBeVisible();
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+Shift+P");
  await expect(palette).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(palette).toHaveCount(0);

  await page.goto(noteUrl(path));
  await expect(page.getByTestId("editor")).toBeVisible();
  await page.keyboard.press("Control+Shift+P");
  await page.keyboard.type("add this note to favourites");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("favourites").getByRole("link", { name: "Target" })).toBeVisible();
  await page.keyboard.press("Control+Shift+P");
  await page.keyboard.type("remove this note");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("favourites").getByRole("link", { name: "Target" })).toHaveCount(0);

  // The neighbours keep their shortcuts.
  await page.keyboard.press("Control+p");
  await expect(page.getByRole("dialog", { name: "Open note" })).toBeVisible();
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+k");
  await expect(page.getByRole("dialog", { name: "Search" })).toBeVisible();
  await page.keyboard.press("Escape");

  // The daily note, last (it navigates to today's note).
  await page.keyboard.press("Control+Shift+P");
  await page.keyboard.type("daily");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/notes\/.*\d{4}-\d{2}-\d{2}\.md$/);
});
