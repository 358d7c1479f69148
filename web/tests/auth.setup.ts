import { expect, test } from "@playwright/test";
import { ADMIN } from "./helpers";

// The first account is made through the sign-up form, like a new installation; it becomes the
// admin, gets a first vault (a welcome note), and its session is what the other tests run as.
test("sign up the first account, see the first vault, sign out and in again", async ({ page }) => {
  await page.goto("/");
  await page.getByRole("button", { name: "No account yet? Create one" }).click();
  await page.getByLabel("Name").fill(ADMIN.name);
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: `Welcome, ${ADMIN.name}` })).toBeVisible();
  // The first vault: sample notes and templates in the tree.
  const tree = page.getByRole("tree", { name: "Files" });
  await expect(tree.getByRole("treeitem").first()).toBeVisible();
  await expect(tree.getByRole("link", { name: "Welcome" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Admin" })).toBeVisible();

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.reload();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();

  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password").fill("wrong password!!");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();

  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: `Welcome, ${ADMIN.name}` })).toBeVisible();
  await page.context().storageState({ path: "test-results/admin.json" });
});
