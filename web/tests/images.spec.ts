import { expect, test, type Page } from "@playwright/test";
import { noteUrl, putNote, uniq, waitSaved } from "./helpers";

/** Makes a real PNG in the page (a canvas, encoded by the browser) and returns its bytes as base64. */
async function makePng(page: Page, colour: string): Promise<string> {
  return page.evaluate(async (fill) => {
    const canvas = new OffscreenCanvas(24, 16);
    const g = canvas.getContext("2d")!;
    g.fillStyle = fill;
    g.fillRect(0, 0, 24, 16);
    const blob = await canvas.convertToBlob({ type: "image/png" });
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }, colour);
}

/** Pastes (a ClipboardEvent) or drops (a DragEvent) a PNG file into the editor, as a user would. */
async function putImage(page: Page, how: "paste" | "drop", name: string, base64: string) {
  await page.getByTestId("editor").evaluate(
    (el, { how, name, base64 }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], name, { type: "image/png" }));
      const box = el.getBoundingClientRect();
      const event =
        how === "paste"
          ? new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true })
          : new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true, clientX: box.left + 10, clientY: box.top + 10 });
      el.dispatchEvent(event);
    },
    { how, name, base64 },
  );
}

test("paste and drop an image: uploaded to /api/files, linked in the note, shown in the preview", async ({ page, request }) => {
  const path = `${uniq("Images")}/Photo note.md`;
  await putNote(request, path, "# Photo note\n\n");
  await page.goto(noteUrl(path));
  await expect(page.getByTestId("editor")).toBeVisible();

  for (const [how, colour] of [["paste", "#c03030"], ["drop", "#3060c0"]] as const) {
    const name = `${how} shot ${uniq("img")}.png`;
    const png = await makePng(page, colour);
    await putImage(page, how, name, png);
    // The link the server's answer suggests (its url), as an image embed.
    const editor = page.getByTestId("editor");
    await expect(editor).toContainText(`![${name}](/api/files/attachments/`);
    const text = (await editor.textContent()) ?? "";
    const url = text.match(new RegExp(`!\\[${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\]\\((/api/files/[^)]+)\\)`))![1];
    // The preview shows it: loaded under the page's CSP and decoded at its real size.
    const img = page.getByTestId("preview").locator(`img[src="${url}"]`);
    await expect(img).toBeVisible();
    await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth)).toBe(24);
    // The server serves back exactly the bytes that were pasted.
    const served = await request.get(url);
    expect(served.status()).toBe(200);
    expect(served.headers()["content-type"]).toContain("image/png");
    expect((await served.body()).toString("base64")).toBe(png);
  }
  await waitSaved(page);
  const saved = (await (await request.get(`/api/notes/${path.split("/").map(encodeURIComponent).join("/")}`)).json()).content as string;
  expect(saved.match(/!\[[^\]]+\]\(\/api\/files\/attachments\/[^)]+\.png\)/g)).toHaveLength(2);
});
