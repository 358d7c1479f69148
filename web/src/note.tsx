// One note: the editor (CodeMirror, lazy) and/or the rendered preview, autosave with a visible
// state, the conflict dialog when someone else saved first (412), and the side panels: backlinks,
// outgoing links, local graph, history.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { diffLines } from "diff";
import { api, ApiError, type Backlink, type Note, type Version } from "./api";
import { createRenderer, makeResolver } from "./markdown";
import type { EditorHandle } from "./editor";
import { Modal, navigate, noteUrl, onLinkClick, useUi } from "./ui";
import { LazyGraph } from "./pages";
import { Icon } from "./icons";

type SaveState = "saved" | "dirty" | "saving" | "conflict" | "error";
const SAVE_LABEL: Record<SaveState, string> = {
  saved: "Saved",
  dirty: "Unsaved changes",
  saving: "Saving…",
  conflict: "Conflict: choose a version",
  error: "Not saved: retrying",
};
type Mode = "split" | "edit" | "preview";

export function NotePage(props: {
  path: string;
  paths: string[];
  tags: string[];
  onChanged: () => void;
  onCreate: (path: string) => Promise<void>;
  starred: boolean;
  onToggleStar: () => void;
}) {
  const ui = useUi();
  const [note, setNote] = useState<Note | null>(null);
  const [missing, setMissing] = useState(false);
  const [text, setText] = useState("");
  const [state, setState] = useState<SaveState>("saved");
  const [mode, setMode] = useState<Mode>(() => (localStorage.getItem("kryton.mode") as Mode) || (innerWidth < 700 ? "preview" : "split"));
  const [conflict, setConflict] = useState<{ mine: string; theirs: Note } | null>(null);
  const [merging, setMerging] = useState<string | null>(null);
  const [backlinks, setBacklinks] = useState<Backlink[]>([]);
  const [showHistory, setShowHistory] = useState(false);
  const [showLocal, setShowLocal] = useState(false);
  const etag = useRef("");
  const saved = useRef("");
  const editor = useRef<EditorHandle | null>(null);
  const editorHost = useRef<HTMLDivElement>(null);
  const timer = useRef<number | undefined>(undefined);
  const reparse = useRef<number | undefined>(undefined);
  const pathRef = useRef(props.path);
  const paths = useRef(props.paths);
  const tags = useRef(props.tags);
  paths.current = props.paths;
  tags.current = props.tags;

  const resolve = useMemo(() => makeResolver(props.paths), [props.paths]);
  const render = useMemo(() => createRenderer(resolve), [resolve]);
  const html = useMemo(() => render(text), [render, text]);
  const outgoing = useMemo(() => outgoingLinks(text).map((t) => ({ target: t, path: resolve(t) })), [resolve, text]);

  const follow = (target: string) => {
    const found = resolve(target);
    if (found) navigate(noteUrl(found));
    else void props.onCreate(target.endsWith(".md") ? target : `${target}.md`);
  };

  async function load(path: string) {
    try {
      const n = await api.note(path);
      if (pathRef.current !== path) return;
      setNote(n);
      setMissing(false);
      etag.current = n.etag;
      saved.current = n.content;
      setText(n.content);
      setState("saved");
      editor.current?.setDoc(n.content);
      document.title = `${n.title || path} · Kryton`;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) setMissing(true);
      else ui.toast(`Could not open ${path}: ${(e as Error).message}`, true);
    }
    api.backlinks(path).then(setBacklinks, () => setBacklinks([]));
  }

  async function save(explicit?: string) {
    window.clearTimeout(timer.current);
    const path = pathRef.current;
    const content = explicit ?? editor.current?.getDoc() ?? saved.current;
    if (content === saved.current) return setState("saved");
    setState("saving");
    try {
      etag.current = await api.save(path, content, etag.current);
      saved.current = content;
      if (pathRef.current === path) setState(editor.current?.getDoc() === content ? "saved" : "dirty");
      props.onChanged();
      api.backlinks(path).then(setBacklinks, () => undefined);
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        setState("conflict");
        const theirs = await api.note(path);
        setConflict({ mine: content, theirs });
      } else {
        setState("error");
        ui.toast(`Save failed: ${(e as Error).message}`, true);
        timer.current = window.setTimeout(() => void save(), 3000);
      }
    }
  }

  // Flush the pending save when the note changes or the page is left.
  useEffect(() => {
    pathRef.current = props.path;
    window.clearTimeout(reparse.current);
    // The preview pane and editor host unmount while the next note loads: a new editor follows.
    editor.current?.destroy();
    editor.current = null;
    setNote(null);
    setConflict(null);
    setShowHistory(false);
    void load(props.path);
    const beforeUnload = (e: BeforeUnloadEvent) => {
      if ((editor.current?.getDoc() ?? saved.current) !== saved.current) e.preventDefault();
    };
    addEventListener("beforeunload", beforeUnload);
    return () => {
      removeEventListener("beforeunload", beforeUnload);
      if (timer.current !== undefined) void save();
    };
  }, [props.path]);

  // The editor, created once the note is loaded and kept while navigating between notes.
  useEffect(() => {
    if (!note || mode === "preview" || editor.current || !editorHost.current) return;
    let cancelled = false;
    void import("./editor").then(({ createEditor }) => {
      if (cancelled || !editorHost.current) return;
      editor.current = createEditor({
        parent: editorHost.current,
        doc: saved.current,
        notes: () => paths.current,
        tags: () => tags.current,
        onFollow: follow,
        onFiles: (files, pos) => void uploadFiles(files, pos),
        onChange(length) {
          setState("dirty");
          window.clearTimeout(timer.current);
          timer.current = window.setTimeout(() => void save(), 800);
          // The preview and the links list are rebuilt from the whole text (markdown-it, DOMPurify,
          // link resolution): once typing pauses, not per keystroke, or a long note lags behind the
          // keyboard. Short notes still follow almost at once.
          window.clearTimeout(reparse.current);
          reparse.current = window.setTimeout(() => {
            if (editor.current) setText(editor.current.getDoc());
          }, length > 20_000 ? 400 : 60);
        },
      });
    });
    return () => {
      cancelled = true;
    };
  }, [note !== null, mode]);
  useEffect(
    () => () => {
      editor.current?.destroy();
      editor.current = null;
    },
    [mode === "preview"],
  );

  /** Uploads pasted or dropped files and links them where they were put: images as embeds. */
  async function uploadFiles(files: File[], pos: number) {
    for (const file of files) {
      try {
        ui.toast(`Uploading ${file.name}…`);
        const stored = await api.upload(file);
        const label = file.name.replace(/[[\]]/g, "");
        const link = file.type.startsWith("image/") ? `![${label}](${stored.url})` : `[${label}](${stored.url})`;
        editor.current?.insert(`${link}\n`, pos);
        pos += link.length + 1;
      } catch (e) {
        ui.toast(`Could not upload ${file.name}: ${(e as Error).message}`, true);
      }
    }
  }

  function chooseMode(m: Mode) {
    localStorage.setItem("kryton.mode", m);
    setMode(m);
  }

  async function resolveConflict(choice: "mine" | "theirs" | "merged") {
    if (!conflict) return;
    etag.current = conflict.theirs.etag;
    saved.current = conflict.theirs.content;
    if (choice === "merged") {
      const merged = merging ?? conflict.mine;
      setConflict(null);
      setMerging(null);
      editor.current?.setDoc(merged);
      setText(merged);
      await save(merged);
    } else if (choice === "theirs") {
      editor.current?.setDoc(conflict.theirs.content);
      setText(conflict.theirs.content);
      setConflict(null);
      setState("saved");
    } else {
      setConflict(null);
      editor.current?.setDoc(conflict.mine);
      setText(conflict.mine);
      await save(conflict.mine);
    }
  }

  if (missing) {
    return (
      <section class="note-missing">
        <h1>{props.path}</h1>
        <p>This note does not exist.</p>
        <button class="primary" onClick={() => props.onCreate(props.path)}>
          Create it
        </button>
      </section>
    );
  }
  return (
    <div class="note-layout">
      <section class="note" aria-label="Note">
        <div class="note-bar">
          <h1 class="note-title" title={props.path}>
            {props.path.replace(/\.md$/, "")}
          </h1>
          <span class={`save-state ${state}`} role="status" data-testid="save-state">
            {SAVE_LABEL[state]}
          </span>
          <div class="segmented" role="group" aria-label="View">
            {(["edit", "split", "preview"] as Mode[]).map((m) => (
              <button aria-pressed={mode === m} onClick={() => chooseMode(m)}>
                {m[0].toUpperCase() + m.slice(1)}
              </button>
            ))}
          </div>
          <button aria-pressed={props.starred} onClick={props.onToggleStar} title={props.starred ? "Remove from favourites" : "Add to favourites"}>
            <Icon name="star" filled={props.starred} /> Favourite
          </button>
          <button onClick={() => setShowHistory(true)}>History</button>
        </div>
        {!note ? (
          <p class="muted">Loading…</p>
        ) : (
          <div class={`panes ${mode}`}>
            {mode !== "preview" && <div class="editor-host" ref={editorHost} />}
            {mode !== "edit" && (
              <article
                class="preview markdown"
                data-testid="preview"
                aria-label="Preview"
                onClick={(e) => {
                  const a = (e.target as HTMLElement).closest("a.wikilink") as HTMLAnchorElement | null;
                  if (a?.classList.contains("missing")) {
                    e.preventDefault();
                    follow(a.dataset.target ?? "");
                    return;
                  }
                  onLinkClick(e);
                }}
                dangerouslySetInnerHTML={{ __html: html }}
              />
            )}
          </div>
        )}
      </section>
      <aside class="context" aria-label="Links">
        <section>
          <h2>Backlinks ({backlinks.length})</h2>
          <ul class="links" data-testid="backlinks">
            {backlinks.map((b) => (
              <li>
                <a href={noteUrl(b.path)} onClick={onLinkClick}>
                  {b.title || b.path}
                </a>
              </li>
            ))}
            {!backlinks.length && <li class="muted">No notes link here.</li>}
          </ul>
        </section>
        <section>
          <h2>Outgoing links ({outgoing.length})</h2>
          <ul class="links" data-testid="outgoing">
            {outgoing.map((l) => (
              <li>
                <a href={noteUrl(l.path ?? `${l.target}.md`)} class={l.path ? "" : "missing"} onClick={(e) => (e.preventDefault(), follow(l.target))}>
                  {l.target}
                </a>
              </li>
            ))}
          </ul>
        </section>
        <section>
          <h2>Local graph</h2>
          {showLocal ? (
            <LazyGraph focus={props.path} height={240} />
          ) : (
            <button onClick={() => setShowLocal(true)}>Show local graph</button>
          )}
        </section>
      </aside>
      {conflict && (
        <Modal title="This note changed elsewhere" wide onClose={() => undefined}>
          <p>
            Someone saved <strong>{props.path}</strong> while you were editing. Nothing is lost: choose which version to
            keep. Your text stays in the editor if you keep yours.
          </p>
          {merging === null ? (
            <div class="conflict">
              <label>
                Your version
                <textarea readOnly value={conflict.mine} rows={12} />
              </label>
              <label>
                Their version (saved on the server)
                <textarea readOnly value={conflict.theirs.content} rows={12} />
              </label>
            </div>
          ) : (
            <label>
              Merged text (both versions' lines; edit it before saving)
              <textarea value={merging} rows={16} onInput={(e) => setMerging(e.currentTarget.value)} />
            </label>
          )}
          <div class="actions">
            {merging === null ? (
              <>
                <button onClick={() => resolveConflict("theirs")}>Use their version</button>
                <button onClick={() => setMerging(mergeTexts(conflict.theirs.content, conflict.mine))}>Merge…</button>
                <button class="primary" onClick={() => resolveConflict("mine")}>
                  Keep my version
                </button>
              </>
            ) : (
              <>
                <button onClick={() => setMerging(null)}>Back to both versions</button>
                <button class="primary" onClick={() => resolveConflict("merged")}>
                  Save merged text
                </button>
              </>
            )}
          </div>
        </Modal>
      )}
      {showHistory && (
        <HistoryDialog
          path={props.path}
          current={text}
          onClose={() => setShowHistory(false)}
          onRestored={() => {
            setShowHistory(false);
            editor.current?.destroy();
            editor.current = null;
            setNote(null);
            void load(props.path);
            props.onChanged();
          }}
        />
      )}
    </div>
  );
}

/**
 * A starting point for a manual merge: their text with my added lines put where they were added
 * (a line diff from theirs to mine; lines only they have are kept too), so no line of either side
 * is dropped and the user edits the result before saving it.
 */
function mergeTexts(theirs: string, mine: string): string {
  const parts = diffLines(theirs, mine).map((part) => part.value);
  // A last line without a newline must not run into the next part's first line.
  return parts.map((v, i) => (i < parts.length - 1 && !v.endsWith("\n") ? `${v}\n` : v)).join("");
}

function outgoingLinks(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?<!!)\[\[([^\]|#\n]+)/g)) out.add(m[1].trim());
  return [...out];
}

function HistoryDialog(props: { path: string; current: string; onClose: () => void; onRestored: () => void }) {
  const ui = useUi();
  const [versions, setVersions] = useState<Version[] | null>(null);
  const [selected, setSelected] = useState<Version | null>(null);
  const [content, setContent] = useState<string | null>(null);
  useEffect(() => {
    api.history(props.path).then(setVersions, (e) => ui.toast((e as Error).message, true));
  }, []);
  useEffect(() => {
    if (selected) api.historyVersion(props.path, selected.timestamp).then(setContent);
  }, [selected]);
  const label = (v: Version) => v.date ?? new Date(Number(v.timestamp)).toLocaleString();
  return (
    <Modal title={`History of ${props.path}`} wide onClose={props.onClose}>
      <div class="history">
        <ul class="versions" aria-label="Versions">
          {versions?.map((v) => (
            <li>
              <button aria-pressed={selected === v} onClick={() => setSelected(v)}>
                {label(v)} {v.size !== undefined && <span class="muted">({v.size} B)</span>}
              </button>
            </li>
          ))}
          {versions?.length === 0 && <li class="muted">No earlier versions.</li>}
        </ul>
        <div class="diff" aria-label="Changes from this version to the current text">
          {content === null ? (
            <p class="muted">Choose a version to compare it with the current text.</p>
          ) : (
            <pre data-testid="diff">
              {diffLines(content, props.current).map((part) => (
                <span class={part.added ? "added" : part.removed ? "removed" : ""}>{part.value}</span>
              ))}
            </pre>
          )}
        </div>
      </div>
      <div class="actions">
        <button
          class="primary"
          disabled={!selected}
          onClick={async () => {
            if (!selected) return;
            await api.restoreVersion(props.path, selected.timestamp);
            ui.toast("Version restored");
            props.onRestored();
          }}
        >
          Restore this version
        </button>
      </div>
    </Modal>
  );
}

