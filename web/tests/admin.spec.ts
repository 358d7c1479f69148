import { expect, test } from "@playwright/test";
import { ADMIN, uniq } from "./helpers";

test("admin: registration mode, an invite used to sign up, the new user listed and disabled", async ({ page, browser }) => {
  await page.goto("/admin");
  await expect(page.getByRole("cell", { name: ADMIN.email, exact: true })).toBeVisible();
  await page.getByTestId("registration-mode").selectOption("invite-only");
  await page.getByRole("button", { name: "Create invite" }).click();
  const code = (await page.getByTestId("new-invite-code").textContent())!.trim();
  expect(code.length).toBeGreaterThan(4);

  const email = `${uniq("guest")}@example.test`;
  const guest = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const g = await guest.newPage();
  await g.goto("/");
  await g.getByRole("button", { name: "No account yet? Create one" }).click();
  await g.getByLabel("Name").fill("Guest");
  await g.getByLabel("Email").fill(email);
  await g.getByLabel("Password").fill("guest password 123");
  await g.getByLabel("Invite code").fill(code);
  await g.getByRole("button", { name: "Create account" }).click();
  await expect(g.getByRole("heading", { name: "Welcome, Guest" })).toBeVisible();
  await expect(g.getByRole("link", { name: "Admin" })).toHaveCount(0);
  await guest.close();

  await page.reload();
  await expect(page.getByRole("cell", { name: email, exact: true })).toBeVisible();
  await page.getByRole("button", { name: `Disable ${email}` }).click();
  await expect(page.getByRole("button", { name: `Enable ${email}` })).toBeVisible();
  await page.getByTestId("registration-mode").selectOption("open");
  await expect(page.getByTestId("registration-mode")).toHaveValue("open");
});
