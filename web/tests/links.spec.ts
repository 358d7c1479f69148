import { expect, test } from "@playwright/test";
import { noteUrl, putNote, typeInEditor, uniq, waitSaved } from "./helpers";

test("wiki links follow, backlinks and outgoing links show, a missing link creates its note", async ({ page, request }) => {
  const f = uniq("Links");
  await putNote(request, `${f}/Target.md`, "# Target\n\nThe target note.\n");
  await putNote(request, `${f}/Source.md`, `# Source\n\nSee [[${f}/Target]] and [[${f}/Missing]].\n`);
  await page.goto(noteUrl(`${f}/Source.md`));
  await expect(page.getByTestId("outgoing").getByRole("link")).toHaveCount(2);

  await page.getByTestId("preview").getByRole("link", { name: `${f}/Target` }).click();
  await expect(page).toHaveURL(new RegExp(`/notes/${f}/Target\\.md$`));
  await expect(page.getByTestId("backlinks").getByRole("link", { name: "Source" })).toBeVisible();

  await page.goBack();
  await page.getByTestId("preview").getByRole("link", { name: `${f}/Missing` }).click();
  await expect(page).toHaveURL(new RegExp(`/notes/${f}/Missing\\.md$`));
  await expect(page.getByTestId("editor")).toBeVisible();
  const r = await request.get(`/api/notes/${f}/Missing.md`);
  expect(r.status()).toBe(200);
});

test("typing [[ offers notes, # offers tags; the tag pane lists tags and their notes", async ({ page, request }) => {
  const f = uniq("Tags");
  const tag = `t${Date.now().toString(36)}`;
  await putNote(request, `${f}/Tagged.md`, `# Tagged\n\nAbout #${tag} things.\n`);
  await putNote(request, `${f}/Writer.md`, "# Writer\n\n");
  await page.goto(noteUrl(`${f}/Writer.md`));
  await typeInEditor(page, `[[${f}/Tag`);
  await page.getByRole("option", { name: `${f}/Tagged` }).click();
  await typeInEditor(page, ` #${tag.slice(0, 4)}`);
  await page.getByRole("option", { name: tag }).click();
  await waitSaved(page);
  await expect(page.getByTestId("outgoing").getByRole("link", { name: `${f}/Tagged` })).toBeVisible();

  await page.getByTestId("tags").getByRole("link", { name: new RegExp(`#${tag}`) }).click();
  await expect(page).toHaveURL(new RegExp(`/tags/${tag}$`));
  await expect(page.getByTestId("tag-notes").getByRole("link")).toHaveCount(2);
});
