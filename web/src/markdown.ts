// Markdown to safe HTML: markdown-it (CommonMark + GFM tables/strikethrough, autolinks) with three
// small inline rules for Kryton's syntax ([[wiki links]], ![[embeds]], #tags), then DOMPurify over
// the result, so raw HTML in a note (scripts, event handlers, javascript: URLs, SVG scripts) is inert.
import MarkdownIt from "markdown-it";
import type { StateInline } from "markdown-it";
import DOMPurify from "dompurify";

export type Resolve = (target: string) => string | null;

const IMAGE = /\.(png|jpe?g|gif|webp|svg|avif)$/i;
const TAG = /^#([\p{L}\p{N}_][\p{L}\p{N}_/-]*)/u;

function wikiRule(state: StateInline, silent: boolean): boolean {
  const src = state.src;
  let pos = state.pos;
  const embed = src.charCodeAt(pos) === 0x21; /* ! */
  if (embed) pos++;
  if (!src.startsWith("[[", pos)) return false;
  const end = src.indexOf("]]", pos + 2);
  if (end < 0) return false;
  const inner = src.slice(pos + 2, end);
  if (!inner.trim() || inner.includes("\n") || inner.includes("[")) return false;
  if (!silent) {
    const [targetPart, alias] = inner.split("|", 2);
    const [target, heading] = targetPart.split("#", 2);
    const token = state.push(embed ? "kryton_embed" : "kryton_wikilink", "", 0);
    token.meta = { target: target.trim(), heading: heading?.trim(), alias: alias?.trim() };
  }
  state.pos = end + 2;
  return true;
}

function tagRule(state: StateInline, silent: boolean): boolean {
  if (state.src.charCodeAt(state.pos) !== 0x23 /* # */) return false;
  const prev = state.pos === 0 ? " " : state.src[state.pos - 1];
  if (!/\s|\(/.test(prev)) return false;
  const m = TAG.exec(state.src.slice(state.pos));
  if (!m || /^\d+$/.test(m[1])) return false;
  if (!silent) {
    const token = state.push("kryton_tag", "", 0);
    token.meta = { tag: m[1] };
  }
  state.pos += m[0].length;
  return true;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const enc = (p: string) => p.split("/").map(encodeURIComponent).join("/");

export function createRenderer(resolve: Resolve) {
  const md = new MarkdownIt({ html: true, linkify: true, typographer: false });
  md.inline.ruler.before("link", "kryton_wikilink", wikiRule);
  md.inline.ruler.before("emphasis", "kryton_tag", tagRule);
  md.renderer.rules.kryton_wikilink = (tokens, idx) => {
    const { target, heading, alias } = tokens[idx].meta as { target: string; heading?: string; alias?: string };
    const path = resolve(target);
    const label = escape(alias || (heading ? `${target} > ${heading}` : target));
    const href = `/notes/${enc(path ?? (target.endsWith(".md") ? target : `${target}.md`))}`;
    const cls = path ? "wikilink" : "wikilink missing";
    const title = path ? "" : ` title="${escape(target)} does not exist yet: click to create it"`;
    return `<a href="${escape(href)}" class="${cls}" data-target="${escape(target)}"${title}>${label}</a>`;
  };
  md.renderer.rules.kryton_embed = (tokens, idx) => {
    const { target, alias } = tokens[idx].meta as { target: string; alias?: string };
    if (IMAGE.test(target)) {
      return `<img class="embed" src="/api/files/${escape(enc(target))}" alt="${escape(alias || target)}">`;
    }
    const path = resolve(target);
    const href = `/notes/${enc(path ?? `${target}.md`)}`;
    return `<a class="embed-link wikilink${path ? "" : " missing"}" href="${escape(href)}" data-target="${escape(target)}">↪ ${escape(alias || target)}</a>`;
  };
  md.renderer.rules.kryton_tag = (tokens, idx) => {
    const tag = (tokens[idx].meta as { tag: string }).tag;
    return `<a class="tag" href="/tags/${escape(encodeURIComponent(tag))}" data-tag="${escape(tag)}">#${escape(tag)}</a>`;
  };
  // GFM task lists, rendered as disabled checkboxes.
  md.core.ruler.after("inline", "kryton_tasks", (state) => {
    for (const token of state.tokens) {
      if (token.type !== "inline" || !token.children?.length) continue;
      const first = token.children[0];
      const m = /^\[([ xX])\]\s/.exec(first.content);
      if (first.type === "text" && m) {
        first.content = first.content.slice(m[0].length);
        const box = new state.Token("html_inline", "", 0);
        box.content = `<input type="checkbox" disabled${m[1] !== " " ? " checked" : ""} aria-label="task"> `;
        token.children.unshift(box);
      }
    }
  });
  return (source: string): string =>
    DOMPurify.sanitize(md.render(stripFrontMatter(source)), {
      USE_PROFILES: { html: true },
      ADD_ATTR: ["data-target", "data-tag"],
      FORBID_TAGS: ["style", "form", "iframe", "object", "embed"],
      FORBID_ATTR: ["style"],
    });
}

function stripFrontMatter(source: string): string {
  if (!source.startsWith("---\n")) return source;
  const end = source.indexOf("\n---", 4);
  return end < 0 ? source : source.slice(source.indexOf("\n", end + 1) + 1);
}

/** Finds a note for a wiki-link target: an exact path, a path without `.md`, or a file name. */
export function makeResolver(paths: string[]): Resolve {
  const byPath = new Map<string, string>();
  const byName = new Map<string, string>();
  for (const p of paths) {
    byPath.set(p.toLowerCase(), p);
    byPath.set(p.replace(/\.md$/i, "").toLowerCase(), p);
    const name = (p.split("/").pop() ?? p).replace(/\.md$/i, "").toLowerCase();
    if (!byName.has(name)) byName.set(name, p);
  }
  return (target) => {
    const t = target.trim().toLowerCase();
    return byPath.get(t) ?? byName.get(t) ?? null;
  };
}
