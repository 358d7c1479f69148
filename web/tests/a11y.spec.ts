import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { noteUrl, putNote, uniq } from "./helpers";

async function noSeriousViolations(page: import("@playwright/test").Page, screen: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${screen}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`)).toEqual([]);
}

test("no serious accessibility violations on the main screens, light and dark", async ({ page, request }) => {
  // Fourteen axe-core passes: slow on a busy 2-core machine.
  test.setTimeout(240_000);
  const path = `${uniq("A11y")}/Page.md`;
  await putNote(request, path, "# Page\n\nSome text with a #tag and a [[Missing link]].\n\n- [ ] a task\n");
  for (const theme of ["light", "dark"]) {
    await page.goto("/settings");
    await page.getByRole("radio", { name: theme[0].toUpperCase() + theme.slice(1) }).check();
    await page.goto("/");
    await noSeriousViolations(page, `home ${theme}`);
    await page.goto(noteUrl(path));
    await expect(page.getByTestId("editor")).toBeVisible();
    await noSeriousViolations(page, `note ${theme}`);
    await page.goto("/settings");
    await noSeriousViolations(page, `settings ${theme}`);
    await page.goto("/trash");
    await noSeriousViolations(page, `trash ${theme}`);
    await page.goto("/admin");
    await expect(page.getByRole("heading", { name: "Administration" })).toBeVisible();
    await noSeriousViolations(page, `admin ${theme}`);
    await page.keyboard.press("Control+k");
    await expect(page.getByRole("dialog", { name: "Search" })).toBeVisible();
    await noSeriousViolations(page, `search ${theme}`);
    await page.keyboard.press("Escape");
    await page.keyboard.press("Control+Shift+P");
    await expect(page.getByRole("dialog", { name: "Commands" })).toBeVisible();
    await noSeriousViolations(page, `commands ${theme}`);
    await page.keyboard.press("Escape");
  }
  await page.goto("/settings");
  await page.getByRole("radio", { name: "System" }).check();
});

test("signed-out page has no serious violations", async ({ browser }) => {
  const ctx = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await ctx.newPage();
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await noSeriousViolations(page, "sign-in");
  await ctx.close();
});
