// Kryton's web app: sign-in/sign-up, then the shell (header, file tree, tags, the current screen).
import { render } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError, type AuthConfig, type TagCount, type TreeEntry, type User } from "./api";
import { applyTheme, Modal, navigate, notePathFromUrl, noteUrl, onLinkClick, storedTheme, UiProvider, useLocation, useUi } from "./ui";
import { NotePage } from "./note";
import { AdminPage, CommandPalette, GraphPage, SearchDialog, SettingsPage, SwitcherDialog, TrashPage, type Command } from "./pages";
import { Icon } from "./icons";
import "./style.css";

applyTheme(storedTheme());
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(storedTheme()));

function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  useEffect(() => {
    api.session().then(setUser, () => setUser(null));
  }, []);
  if (user === undefined) return <p class="muted center">Loading…</p>;
  if (!user) return <AuthScreen onSignedIn={setUser} />;
  return <Shell user={user} onSignedOut={() => setUser(null)} />;
}

function AuthScreen(props: { onSignedIn: (u: User) => void }) {
  const [mode, setMode] = useState<"in" | "up">("in");
  const [config, setConfig] = useState<AuthConfig>({});
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [needInvite, setNeedInvite] = useState(false);
  useEffect(() => {
    api.authConfig().then(setConfig);
  }, []);
  // Without /api/auth/config (older servers) the field is offered; it is optional.
  const showInvite =
    needInvite || config.inviteRequired || config.registrationMode === undefined || /invite/.test(config.registrationMode);
  return (
    <main class="auth">
      <h1>Kryton</h1>
      <form
        aria-label={mode === "in" ? "Sign in" : "Create account"}
        onSubmit={async (e) => {
          e.preventDefault();
          const d = new FormData(e.currentTarget);
          setBusy(true);
          setError("");
          try {
            const email = String(d.get("email"));
            const password = String(d.get("password"));
            if (mode === "up") await api.signUp(email, password, String(d.get("name")), String(d.get("invite") ?? "") || undefined);
            else await api.signIn(email, password);
            const u = await api.session();
            if (u) props.onSignedIn(u);
            else setError("Signed in, but the session was not kept: are cookies allowed?");
          } catch (err) {
            if (err instanceof ApiError && /invite/i.test(err.message + (err.code ?? ""))) setNeedInvite(true);
            setError((err as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2>{mode === "in" ? "Sign in" : "Create an account"}</h2>
        {mode === "up" && (
          <label>
            Name
            <input name="name" required autoComplete="name" />
          </label>
        )}
        <label>
          Email
          <input name="email" type="email" required autoComplete="email" />
        </label>
        <label>
          Password
          <input name="password" type="password" required minLength={8} autoComplete={mode === "in" ? "current-password" : "new-password"} />
        </label>
        {mode === "up" && showInvite && (
          <label>
            Invite code
            <input name="invite" autoComplete="off" />
          </label>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          {mode === "in" ? "Sign in" : "Create account"}
        </button>
        <button type="button" class="link" onClick={() => (setMode(mode === "in" ? "up" : "in"), setError(""))}>
          {mode === "in" ? "No account yet? Create one" : "Have an account? Sign in"}
        </button>
      </form>
    </main>
  );
}

function flatten(entries: TreeEntry[], out: string[] = []): string[] {
  for (const e of entries) {
    if (e.type === "file") out.push(e.path);
    else if (e.children) flatten(e.children, out);
  }
  return out;
}

/** The `starred` setting: a JSON array of note paths, as the original client stores it. */
function parseStarred(value: string | undefined): string[] {
  try {
    const list = JSON.parse(value ?? "[]") as unknown;
    return Array.isArray(list) ? list.filter((p): p is string => typeof p === "string") : [];
  } catch {
    return [];
  }
}

/** A path after `from` moved to `to`: the note itself, or anything under a moved folder. */
function movedPath(path: string, from: string, to: string): string {
  if (path === from) return to;
  return path.startsWith(`${from}/`) ? to + path.slice(from.length) : path;
}

function Shell(props: { user: User; onSignedOut: () => void }) {
  const ui = useUi();
  const pathname = useLocation();
  const [tree, setTree] = useState<TreeEntry[]>([]);
  const [tags, setTags] = useState<TagCount[]>([]);
  const [dialog, setDialog] = useState<"search" | "switcher" | "new" | "commands" | null>(null);
  const [starred, setStarredState] = useState<string[]>([]);
  const starredRef = useRef<string[]>([]);
  const setStarred = (next: string[]) => {
    starredRef.current = next;
    setStarredState(next);
    api.putSetting("starred", JSON.stringify(next)).catch((e) => ui.toast(`Favourites not saved: ${(e as Error).message}`, true));
  };
  const toggleStar = (path: string) => {
    const now = starredRef.current;
    setStarred(now.includes(path) ? now.filter((p) => p !== path) : [...now, path]);
  };
  const onMoved = (from: string, to: string) => {
    const now = starredRef.current;
    const next = now.map((p) => movedPath(p, from, to));
    if (next.some((p, i) => p !== now[i])) setStarred(next);
  };
  useEffect(() => {
    api.settings().then(
      (s) => {
        starredRef.current = parseStarred(s.starred);
        setStarredState(starredRef.current);
      },
      () => undefined,
    );
  }, []);
  const [menuOpen, setMenuOpen] = useState(false);
  const paths = useMemo(() => flatten(tree).filter((p) => p.endsWith(".md")), [tree]);
  const tagNames = useMemo(() => tags.map((t) => t.tag), [tags]);

  const refresh = useCallback(() => {
    api.tree().then(setTree, (e) => ui.toast((e as Error).message, true));
    api.tags().then(setTags, () => undefined);
  }, []);
  useEffect(refresh, []);
  useEffect(() => setMenuOpen(false), [pathname]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey)) return;
      const k = e.key.toLowerCase();
      if (k === "k") (e.preventDefault(), setDialog("search"));
      else if (k === "p" && e.shiftKey) (e.preventDefault(), setDialog("commands"));
      else if (k === "p") (e.preventDefault(), setDialog("switcher"));
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  const createNote = async (path: string, content?: string) => {
    const clean = path.replace(/^\/+/, "");
    const full = clean.endsWith(".md") ? clean : `${clean}.md`;
    const title = (full.split("/").pop() ?? full).replace(/\.md$/, "");
    try {
      await api.create(full, content ?? `# ${title}\n\n`);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 412)) return ui.toast((e as Error).message, true);
    }
    refresh();
    navigate(noteUrl(full));
  };
  const openDaily = async () => {
    try {
      const d = await api.daily();
      refresh();
      navigate(noteUrl(d.path));
    } catch (e) {
      ui.toast((e as Error).message, true);
    }
  };

  const signOut = async () => {
    await api.signOut().catch(() => undefined);
    navigate("/", true);
    props.onSignedOut();
  };

  const notePath = notePathFromUrl(pathname);
  const commands: Command[] = [
    { label: "New note", run: () => setDialog("new") },
    { label: "Open today's daily note", run: openDaily },
    { label: "Search notes", keys: "Ctrl+K", run: () => setDialog("search") },
    { label: "Open a note by name", keys: "Ctrl+P", run: () => setDialog("switcher") },
    ...(notePath
      ? [{ label: starred.includes(notePath) ? "Remove this note from favourites" : "Add this note to favourites", run: () => toggleStar(notePath) }]
      : []),
    {
      label: "Toggle light/dark theme",
      run: () => {
        const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
        localStorage.setItem("kryton.theme", next);
        applyTheme(next);
      },
    },
    { label: "Go to graph", run: () => navigate("/graph") },
    { label: "Go to trash", run: () => navigate("/trash") },
    { label: "Go to settings and API keys", run: () => navigate("/settings") },
    ...(props.user.role === "admin" ? [{ label: "Go to administration", run: () => navigate("/admin") }] : []),
    { label: "Go home", run: () => navigate("/") },
    { label: "Sign out", run: signOut },
  ];
  let screen;
  if (notePath)
    screen = (
      <NotePage
        path={notePath}
        paths={paths}
        tags={tagNames}
        onChanged={refresh}
        onCreate={(p) => createNote(p)}
        starred={starred.includes(notePath)}
        onToggleStar={() => toggleStar(notePath)}
      />
    );
  else if (pathname === "/graph") screen = <GraphPage />;
  else if (pathname === "/trash") screen = <TrashPage onChanged={refresh} />;
  else if (pathname === "/settings") screen = <SettingsPage />;
  else if (pathname === "/admin" && props.user.role === "admin") screen = <AdminPage me={props.user} />;
  else if (pathname.startsWith("/tags/")) screen = <TagPage tag={decodeURIComponent(pathname.slice(6))} />;
  else screen = <Home paths={paths} name={props.user.name} onDaily={openDaily} onNew={() => setDialog("new")} />;

  return (
    <div class={menuOpen ? "shell menu-open" : "shell"}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <button class="menu-button" aria-label="Menu" aria-expanded={menuOpen} onClick={() => setMenuOpen(!menuOpen)}>
          <Icon name="menu" size={18} />
        </button>
        <a class="brand" href="/" onClick={onLinkClick}>
          Kryton
        </a>
        <nav aria-label="Main" class="topnav">
          <button onClick={() => setDialog("search")} title="Search (Ctrl+K)">
            Search
          </button>
          <button onClick={() => setDialog("switcher")} title="Quick switcher (Ctrl+P)">
            Open
          </button>
          <button onClick={() => setDialog("commands")} title="Command palette (Ctrl+Shift+P)">
            Commands
          </button>
          <button onClick={() => setDialog("new")}>New note</button>
          <button onClick={openDaily}>Today</button>
          <a href="/graph" onClick={onLinkClick} aria-current={pathname === "/graph" ? "page" : undefined}>
            Graph
          </a>
          <a href="/trash" onClick={onLinkClick} aria-current={pathname === "/trash" ? "page" : undefined}>
            Trash
          </a>
          <a href="/settings" onClick={onLinkClick} aria-current={pathname === "/settings" ? "page" : undefined}>
            Settings
          </a>
          {props.user.role === "admin" && (
            <a href="/admin" onClick={onLinkClick} aria-current={pathname === "/admin" ? "page" : undefined}>
              Admin
            </a>
          )}
          <button onClick={signOut}>Sign out</button>
        </nav>
      </header>
      <aside class="sidebar" aria-label="Notes and tags">
        <section class="favourites">
          <h2>Favourites</h2>
          <ul class="links" data-testid="favourites">
            {starred.map((p) => (
              <li>
                <a href={noteUrl(p)} onClick={onLinkClick} aria-current={p === notePath ? "page" : undefined}>
                  <Icon name="star" filled size={12} /> {(p.split("/").pop() ?? p).replace(/\.md$/, "")}
                </a>
              </li>
            ))}
            {!starred.length && <li class="muted">Star a note to keep it here.</li>}
          </ul>
        </section>
        <FileTree tree={tree} current={notePath} onChanged={refresh} onNew={() => setDialog("new")} onMoved={onMoved} />
        <section class="tags-pane">
          <h2>Tags</h2>
          <ul data-testid="tags">
            {tags.map((t) => (
              <li>
                <a href={`/tags/${encodeURIComponent(t.tag)}`} onClick={onLinkClick}>
                  #{t.tag} <span class="muted">{t.count}</span>
                </a>
              </li>
            ))}
            {!tags.length && <li class="muted">No tags yet.</li>}
          </ul>
        </section>
      </aside>
      <main id="main" class="main" tabIndex={-1}>
        {screen}
      </main>
      {dialog === "search" && <SearchDialog onClose={() => setDialog(null)} />}
      {dialog === "switcher" && <SwitcherDialog paths={paths} onClose={() => setDialog(null)} />}
      {dialog === "commands" && <CommandPalette commands={commands} onClose={() => setDialog(null)} />}
      {dialog === "new" && (
        <NewNoteDialog
          onClose={() => setDialog(null)}
          onCreate={async (path, content) => {
            setDialog(null);
            await createNote(path, content);
          }}
        />
      )}
    </div>
  );
}

function Home(props: { paths: string[]; name: string; onDaily: () => void; onNew: () => void }) {
  return (
    <section class="page">
      <h1>Welcome, {props.name}</h1>
      <p>
        Your vault has {props.paths.length} notes. Press <kbd>Ctrl</kbd>+<kbd>K</kbd> to search, <kbd>Ctrl</kbd>+<kbd>P</kbd> to open a
        note by name, or <kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>P</kbd> for every command.
      </p>
      <div class="actions left">
        <button class="primary" onClick={props.onNew}>
          New note
        </button>
        <button onClick={props.onDaily}>Today's note</button>
      </div>
    </section>
  );
}

function TagPage(props: { tag: string }) {
  const [notes, setNotes] = useState<{ path: string; title: string }[] | null>(null);
  useEffect(() => {
    api.tagNotes(props.tag).then(setNotes, () => setNotes([]));
  }, [props.tag]);
  return (
    <section class="page">
      <h1>#{props.tag}</h1>
      <ul class="links" data-testid="tag-notes">
        {notes?.map((n) => (
          <li>
            <a href={noteUrl(n.path)} onClick={onLinkClick}>
              {n.title || n.path}
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
}

function NewNoteDialog(props: { onClose: () => void; onCreate: (path: string, content?: string) => void }) {
  const [templates, setTemplates] = useState<{ name: string; path: string }[]>([]);
  useEffect(() => {
    api.templates().then(setTemplates, () => undefined);
  }, []);
  return (
    <Modal title="New note" onClose={props.onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const d = new FormData(e.currentTarget);
          const path = String(d.get("path")).trim();
          if (!path) return;
          const template = String(d.get("template") ?? "");
          const content = template ? (await api.template(template)).content : undefined;
          props.onCreate(path, content);
        }}
      >
        <label>
          Name or path (folders with /)
          <input name="path" required placeholder="Projects/New idea" autoComplete="off" />
        </label>
        <label for="new-note-template">Template</label>
        <div class="field">
          <select id="new-note-template" name="template">
            <option value="">None</option>
            {templates.map((t) => (
              <option value={t.name}>{t.name}</option>
            ))}
          </select>
        </div>
        <div class="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button class="primary" type="submit">
            Create
          </button>
        </div>
      </form>
    </Modal>
  );
}

function FileTree(props: {
  tree: TreeEntry[];
  current: string | null;
  onChanged: () => void;
  onNew: () => void;
  onMoved: (from: string, to: string) => void;
}) {
  const ui = useUi();
  const [open, setOpen] = useState<Set<string>>(() => new Set(JSON.parse(localStorage.getItem("kryton.open") ?? "[]") as string[]));
  useEffect(() => {
    // Open the folders above the current note.
    if (!props.current) return;
    const parts = props.current.split("/");
    const next = new Set(open);
    for (let i = 1; i < parts.length; i++) next.add(parts.slice(0, i).join("/"));
    if (next.size !== open.size) setOpen(next);
  }, [props.current]);
  const toggle = (p: string) => {
    const next = new Set(open);
    if (next.has(p)) next.delete(p);
    else next.add(p);
    localStorage.setItem("kryton.open", JSON.stringify([...next]));
    setOpen(next);
  };
  const run = async (f: () => Promise<unknown>, done: string): Promise<boolean> => {
    let ok = false;
    try {
      await f();
      ui.toast(done);
      ok = true;
    } catch (e) {
      ui.toast((e as Error).message, true);
    }
    props.onChanged();
    return ok;
  };
  const rename = async (e: TreeEntry) => {
    const next = await ui.ask(`Rename or move ${e.path}`, "New path", e.path, "Rename");
    if (!next || next === e.path) return;
    const target = e.type === "file" && !next.endsWith(".md") ? `${next}.md` : next;
    if (!(await run(() => (e.type === "file" ? api.rename(e.path, target) : api.renameFolder(e.path, target)), `Renamed to ${target}`))) return;
    props.onMoved(e.path, target);
    if (e.type === "file" && props.current === e.path) navigate(noteUrl(target), true);
    else if (props.current?.startsWith(`${e.path}/`)) navigate(noteUrl(target + props.current.slice(e.path.length)), true);
  };
  const remove = async (e: TreeEntry) => {
    if (!(await ui.confirm(`Move ${e.path} to the trash?`, "Move to trash"))) return;
    await run(() => (e.type === "file" ? api.remove(e.path) : api.removeFolder(e.path)), `${e.path} moved to the trash`);
    if (props.current === e.path || props.current?.startsWith(`${e.path}/`)) navigate("/", true);
  };
  const move = async (from: string, folder: string) => {
    const name = from.split("/").pop() ?? from;
    const to = folder ? `${folder}/${name}` : name;
    if (to === from || folder.startsWith(`${from}/`) || folder === from) return;
    const isFile = from.endsWith(".md");
    if (!(await run(() => (isFile ? api.rename(from, to) : api.renameFolder(from, to)), `Moved to ${to}`))) return;
    props.onMoved(from, to);
    if (props.current) navigate(noteUrl(movedPath(props.current, from, to)), true);
  };
  const dropProps = (folder: string) => ({
    onDragOver: (ev: DragEvent) => ev.preventDefault(),
    onDrop: (ev: DragEvent) => {
      ev.preventDefault();
      ev.stopPropagation();
      const from = ev.dataTransfer?.getData("text/x-kryton-path");
      if (from) void move(from, folder);
    },
  });
  const renderEntries = (entries: TreeEntry[], depth: number) => (
    <ul role={depth ? "group" : "tree"} aria-label={depth ? undefined : "Files"} class="tree">
      {entries.map((e) => {
        const isOpen = open.has(e.path);
        return (
          <li
            role="treeitem"
            aria-expanded={e.type === "folder" ? isOpen : undefined}
            aria-selected={e.path === props.current}
            key={e.path}
            {...(e.type === "folder" ? dropProps(e.path) : {})}
          >
            <div class={e.path === props.current ? "row current" : "row"} style={{ paddingLeft: `${depth * 12 + 4}px` }}>
              {e.type === "folder" ? (
                <button
                  class="entry folder"
                  draggable
                  onDragStart={(ev) => ev.dataTransfer?.setData("text/x-kryton-path", e.path)}
                  onClick={() => toggle(e.path)}
                  aria-label={`${isOpen ? "Collapse" : "Expand"} folder ${e.name}`}
                >
                  <Icon name={isOpen ? "chevronDown" : "chevronRight"} size={14} /> {e.name}
                </button>
              ) : (
                <a
                  class="entry"
                  href={noteUrl(e.path)}
                  draggable
                  onDragStart={(ev) => ev.dataTransfer?.setData("text/x-kryton-path", e.path)}
                  onClick={onLinkClick}
                  aria-current={e.path === props.current ? "page" : undefined}
                >
                  {e.name.replace(/\.md$/, "")}
                </a>
              )}
              <span class="row-actions">
                <button aria-label={`Rename ${e.path}`} title="Rename or move" onClick={() => rename(e)}>
                  <Icon name="pencil" size={14} />
                </button>
                <button aria-label={`Delete ${e.path}`} title="Move to trash" onClick={() => remove(e)}>
                  <Icon name="trash" size={14} />
                </button>
              </span>
            </div>
            {e.type === "folder" && isOpen && e.children && renderEntries(e.children, depth + 1)}
          </li>
        );
      })}
    </ul>
  );
  return (
    <section class="files" {...dropProps("")}>
      <div class="pane-head">
        <h2>Files</h2>
        <button aria-label="New note" title="New note" onClick={props.onNew}>
          <Icon name="plus" />
        </button>
        <button
          aria-label="New folder"
          title="New folder"
          onClick={async () => {
            const p = await ui.ask("New folder", "Folder path", "", "Create");
            if (p) await run(() => api.createFolder(p), `Folder ${p} created`);
          }}
        >
          <Icon name="folderPlus" />
        </button>
      </div>
      {renderEntries(props.tree, 0)}
    </section>
  );
}

render(
  <UiProvider>
    <App />
  </UiProvider>,
  document.getElementById("app")!,
);
