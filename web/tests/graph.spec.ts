import { expect, test } from "@playwright/test";
import { noteUrl, putNote, uniq } from "./helpers";

test("the global graph draws every note with WebGL; the local graph shows a note's neighbours", async ({ page, request }) => {
  const f = uniq("Graph");
  await putNote(request, `${f}/Hub.md`, `# Hub\n\n[[${f}/A]] [[${f}/B]]\n`);
  await putNote(request, `${f}/A.md`, "# A\n");
  await putNote(request, `${f}/B.md`, `# B\n\n[[${f}/C]]\n`);
  await putNote(request, `${f}/C.md`, "# C\n");
  const graph = await (await request.get("/api/graph")).json();

  await page.goto("/graph");
  await expect(page.getByTestId("graph-info")).toHaveText(new RegExp(`^${graph.nodes.length} notes, \\d+ links$`));
  await expect(page.getByTestId("graph").locator("canvas").first()).toBeVisible();

  await page.goto(noteUrl(`${f}/Hub.md`));
  await page.getByRole("button", { name: "Show local graph" }).click();
  // Hub, A, B (one link away) and C (two links away).
  await expect(page.getByTestId("graph-info")).toHaveText("4 notes, 3 links");
});
