import { expect, test } from "@playwright/test";
import { noteUrl, putNote } from "./helpers";

// The README's pictures of the main screens, light and dark (only when SCREENSHOTS is set, so
// the second backend's run does not rewrite them).
test.skip(!process.env.SCREENSHOTS, "screenshots are made in one run only");
test.use({ viewport: { width: 1280, height: 800 } });

test("screenshots of the main screens", async ({ page, request }) => {
  const dir = process.env.SCREENSHOTS!;
  await putNote(request, "Tour/Welcome tour.md", "# Welcome tour\n\nKryton keeps **plain markdown** in your own vault.\n\n- Link notes with [[Tour/Ideas]]\n- Tag them: #kryton #tour\n- [ ] try the graph\n\n| key | action |\n|---|---|\n| Ctrl+K | search |\n| Ctrl+P | open a note |\n");
  await putNote(request, "Tour/Ideas.md", "# Ideas\n\nBack to [[Tour/Welcome tour]].\n");
  for (const theme of ["light", "dark"]) {
    await page.goto("/settings");
    await page.getByRole("radio", { name: theme[0].toUpperCase() + theme.slice(1) }).check();
    await page.goto(noteUrl("Tour/Welcome tour.md"));
    await expect(page.getByTestId("editor")).toBeVisible();
    await expect(page.getByTestId("backlinks").getByRole("link")).toHaveCount(1);
    await page.screenshot({ path: `${dir}/note-${theme}.png` });
    await page.goto("/graph");
    await expect(page.getByTestId("graph-info")).toHaveText(/notes/);
    await page.waitForTimeout(500);
    await page.screenshot({ path: `${dir}/graph-${theme}.png` });
    await page.goto("/");
    await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
    await page.keyboard.press("Control+k");
    await page.getByLabel("Search notes").fill("markdown");
    await expect(page.getByRole("option").first()).toBeVisible();
    await page.screenshot({ path: `${dir}/search-${theme}.png` });
  }
  await page.goto("/settings");
  await page.getByRole("radio", { name: "System" }).check();
});
