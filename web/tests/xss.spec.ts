import { expect, test } from "@playwright/test";
import { noteUrl, putNote, uniq } from "./helpers";

const EVIL = `# Evil

<script>window.__xss = "script"</script>
<img src="x" onerror="window.__xss = 'onerror'">
[click me](javascript:window.__xss='link')
<a href="javascript:window.__xss='html-link'">html link</a>
<svg><script>window.__xss = "svg"</script><circle r="5" onload="window.__xss='svgload'"/></svg>
<iframe src="javascript:parent.__xss='iframe'"></iframe>
<details open ontoggle="window.__xss='toggle'"><summary>s</summary></details>
[[x" onmouseover="window.__xss='wiki']]

Normal **text** stays.
`;

test("a note full of scripts renders inert", async ({ page, request }) => {
  const path = `${uniq("Xss")}/Evil.md`;
  await putNote(request, path, EVIL);
  const dialogs: string[] = [];
  page.on("dialog", (d) => (dialogs.push(d.message()), void d.dismiss()));
  await page.goto(noteUrl(path));
  const preview = page.getByTestId("preview");
  await expect(preview.locator("strong")).toHaveText("text");
  await preview.getByText("html link").click().catch(() => undefined);
  await preview.getByText("click me").click().catch(() => undefined);
  await preview.getByText("s", { exact: true }).click().catch(() => undefined);
  await page.waitForTimeout(500);
  expect(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss)).toBeUndefined();
  expect(dialogs).toEqual([]);
  // Text that merely mentions javascript: is fine; no element may carry a handler or such a URL.
  const bad = await preview.evaluate((root) =>
    [...root.querySelectorAll("*")].flatMap((el) => {
      const found: string[] = [];
      if (/^(script|iframe|object|embed|style)$/i.test(el.tagName)) found.push(el.tagName);
      for (const a of el.getAttributeNames()) {
        if (a.startsWith("on")) found.push(`${el.tagName} ${a}`);
        if (/^\s*javascript:/i.test(el.getAttribute(a) ?? "")) found.push(`${el.tagName} ${a}=javascript:`);
      }
      return found;
    }),
  );
  expect(bad).toEqual([]);
  await expect(page).toHaveURL(new RegExp(noteUrl(path).replace(/[.]/g, "\\.") + "$"));
});
