import { expect, test } from "@playwright/test";
import { newUserContext, noteUrl } from "./helpers";

// The README's pictures of the main screens, light and dark (only when SCREENSHOTS is set, so
// the second backend's run does not rewrite them). They are taken as a fresh user whose vault is
// the first-run sample vault, so they show the product as a new user meets it, not the folders
// the other tests leave behind.
test.skip(!process.env.SCREENSHOTS, "screenshots are made in one run only");

test("screenshots of the main screens", async ({ browser, request }) => {
  const dir = process.env.SCREENSHOTS!;
  const { context } = await newUserContext(browser, request, "Sam");
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(noteUrl("Welcome.md"));
  await page.getByRole("button", { name: "Favourite" }).click();
  await expect(page.getByTestId("favourites").getByRole("link", { name: "Welcome" })).toBeVisible();
  for (const theme of ["light", "dark"]) {
    await page.goto("/settings");
    await page.getByRole("radio", { name: theme[0].toUpperCase() + theme.slice(1) }).check();
    await page.goto(noteUrl("Projects/First project.md"));
    await expect(page.getByTestId("editor")).toBeVisible();
    await expect(page.getByTestId("backlinks").getByRole("link").first()).toBeVisible();
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${dir}/note-${theme}.png` });
    await page.goto("/graph");
    await expect(page.getByTestId("graph-info")).toHaveText(/notes/);
    await page.waitForTimeout(800);
    await page.screenshot({ path: `${dir}/graph-${theme}.png` });
    await page.goto("/");
    await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
    await page.keyboard.press("Control+k");
    await page.getByLabel("Search notes").fill("notes");
    await expect(page.getByRole("option").first()).toBeVisible();
    await page.screenshot({ path: `${dir}/search-${theme}.png` });
    await page.keyboard.press("Escape");
    await page.keyboard.press("Control+Shift+P");
    await expect(page.getByRole("dialog", { name: "Commands" })).toBeVisible();
    await page.screenshot({ path: `${dir}/commands-${theme}.png` });
  }
  await context.close();
});
