// The CodeMirror 6 editor, loaded lazily (its own chunk): markdown mode, `[[` note completion and
// `#` tag completion as completion sources, and Ctrl/Cmd-click on a wiki link to follow it.
import { EditorView, keymap, placeholder, drawSelection, highlightActiveLine, lineNumbers } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { markdown, markdownLanguage } from "@codemirror/lang-markdown";
import { syntaxHighlighting, defaultHighlightStyle, HighlightStyle } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";

/** Token colours for the dark theme with enough contrast on its background (WCAG AA). */
const darkHighlight = HighlightStyle.define([
  { tag: t.heading, fontWeight: "bold", color: "#c9c0ff" },
  { tag: t.emphasis, fontStyle: "italic" },
  { tag: t.strong, fontWeight: "bold" },
  { tag: [t.link, t.url], color: "#8cc8ff", textDecoration: "underline" },
  { tag: [t.monospace, t.string], color: "#f0c987" },
  { tag: [t.meta, t.comment, t.processingInstruction], color: "#b4b4c4" },
  { tag: [t.keyword, t.atom, t.bool], color: "#ff9ecf" },
  { tag: t.quote, color: "#c8e6a0" },
]);
import { autocompletion, completionKeymap, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";

export interface EditorOptions {
  parent: HTMLElement;
  doc: string;
  /** The text changed; read it with `getDoc()` when needed (not copied on every keystroke). */
  onChange: (length: number) => void;
  notes: () => string[];
  tags: () => string[];
  onFollow: (target: string) => void;
  /** Files pasted or dropped into the editor, with the document position they belong at. */
  onFiles: (files: File[], pos: number) => void;
}

export interface EditorHandle {
  setDoc(doc: string): void;
  getDoc(): string;
  /** Inserts text at `pos` (clamped to the document), e.g. the link to an uploaded image. */
  insert(text: string, pos: number): void;
  focus(): void;
  destroy(): void;
}

function noteCompletion(notes: () => string[]) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const m = ctx.matchBefore(/\[\[[^\]\n]*/);
    if (!m) return null;
    return {
      from: m.from + 2,
      options: notes().map((p) => {
        const name = p.replace(/\.md$/i, "");
        return { label: name, type: "text", apply: `${name}]]` };
      }),
      validFor: /^[^\]\n]*$/,
    };
  };
}

function tagCompletion(tags: () => string[]) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const m = ctx.matchBefore(/(^|\s)#[\p{L}\p{N}_/-]*/u);
    if (!m) return null;
    const hash = m.text.indexOf("#");
    return {
      from: m.from + hash + 1,
      options: tags().map((t) => ({ label: t, type: "keyword" })),
      validFor: /^[\p{L}\p{N}_/-]*$/u,
    };
  };
}

/** The wiki-link target under a document position, if any. */
function linkAt(state: EditorState, pos: number): string | null {
  const line = state.doc.lineAt(pos);
  const re = /\[\[([^\]|#\n]+)(?:[#|][^\]\n]*)?\]\]/g;
  for (let m = re.exec(line.text); m; m = re.exec(line.text)) {
    const from = line.from + m.index;
    if (pos >= from && pos <= from + m[0].length) return m[1].trim();
  }
  return null;
}

export function createEditor(o: EditorOptions): EditorHandle {
  let silent = false;
  const view = new EditorView({
    parent: o.parent,
    state: EditorState.create({
      doc: o.doc,
      extensions: [
        lineNumbers(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        EditorView.lineWrapping,
        markdown({ base: markdownLanguage }),
        document.documentElement.dataset.theme === "dark"
          ? syntaxHighlighting(darkHighlight)
          : syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        autocompletion({ override: [noteCompletion(o.notes), tagCompletion(o.tags)] }),
        placeholder("Start writing…"),
        keymap.of([...completionKeymap, ...defaultKeymap, ...historyKeymap, indentWithTab]),
        EditorView.contentAttributes.of({ "aria-label": "Note text", "data-testid": "editor" }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged && !silent) o.onChange(u.state.doc.length);
        }),
        EditorView.domEventHandlers({
          paste(event, v) {
            const files = [...(event.clipboardData?.files ?? [])];
            if (!files.length) return false;
            event.preventDefault();
            o.onFiles(files, v.state.selection.main.head);
            return true;
          },
          drop(event, v) {
            const files = [...(event.dataTransfer?.files ?? [])];
            if (!files.length) return false;
            event.preventDefault();
            const pos = v.posAtCoords({ x: event.clientX, y: event.clientY }) ?? v.state.selection.main.head;
            o.onFiles(files, pos);
            return true;
          },
          mousedown(event, v) {
            if (!(event.ctrlKey || event.metaKey)) return false;
            const pos = v.posAtCoords({ x: event.clientX, y: event.clientY });
            const target = pos == null ? null : linkAt(v.state, pos);
            if (!target) return false;
            event.preventDefault();
            o.onFollow(target);
            return true;
          },
        }),
      ],
    }),
  });
  return {
    setDoc(doc: string) {
      if (doc === view.state.doc.toString()) return;
      silent = true;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: doc } });
      silent = false;
    },
    getDoc: () => view.state.doc.toString(),
    insert(text: string, pos: number) {
      const at = Math.min(Math.max(0, pos), view.state.doc.length);
      view.dispatch({ changes: { from: at, insert: text }, selection: { anchor: at + text.length } });
    },
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}
