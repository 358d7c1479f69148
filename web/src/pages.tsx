// The other screens: graph, trash, settings (theme, API keys), admin, and the two palettes
// (search with snippets, quick switcher).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, type ApiKey, type Invite, type SearchHit, type TrashItem, type User } from "./api";
import { Modal, navigate, noteUrl, useUi, isDark, applyTheme, storedTheme, type Theme } from "./ui";

// ---- graph -------------------------------------------------------------------------------------
export function LazyGraph(props: { focus?: string; height?: number }) {
  const host = useRef<HTMLDivElement>(null);
  const [info, setInfo] = useState("Loading graph…");
  useEffect(() => {
    let handle: { destroy(): void } | null = null;
    let cancelled = false;
    void Promise.all([import("./graph"), api.graph()]).then(([{ drawGraph }, data]) => {
      if (cancelled || !host.current) return;
      const h = drawGraph(host.current, data, {
        focus: props.focus,
        depth: 2,
        dark: isDark(),
        onOpen: (path) => navigate(noteUrl(path)),
      });
      handle = h;
      setInfo(`${h.nodeCount} notes, ${h.edgeCount} links`);
    });
    return () => {
      cancelled = true;
      handle?.destroy();
    };
  }, [props.focus]);
  return (
    <figure class="graph-figure">
      <div
        ref={host}
        class="graph"
        data-testid={props.focus ? "local-graph" : "graph"}
        style={{ height: props.height ? `${props.height}px` : undefined }}
        role="img"
        aria-label={props.focus ? `Notes linked with ${props.focus}` : "Graph of all notes and their links"}
      />
      <figcaption class="muted" data-testid="graph-info">
        {info}
      </figcaption>
    </figure>
  );
}

export function GraphPage() {
  return (
    <section class="page graph-page">
      <h1>Graph</h1>
      <LazyGraph />
    </section>
  );
}

// ---- trash -------------------------------------------------------------------------------------
export function TrashPage(props: { onChanged: () => void }) {
  const ui = useUi();
  const [items, setItems] = useState<TrashItem[] | null>(null);
  const refresh = () => api.trash().then(setItems, (e) => ui.toast((e as Error).message, true));
  useEffect(() => void refresh(), []);
  const act = async (f: () => Promise<unknown>, message: string) => {
    try {
      await f();
      ui.toast(message);
    } catch (e) {
      ui.toast((e as Error).message, true);
    }
    await refresh();
    props.onChanged();
  };
  return (
    <section class="page">
      <h1>Trash</h1>
      <div class="actions left">
        <button
          disabled={!items?.length}
          onClick={async () => (await ui.confirm("Delete everything in the trash forever?", "Empty trash")) && act(api.emptyTrash, "Trash emptied")}
        >
          Empty trash
        </button>
      </div>
      <table class="list" aria-label="Trashed notes">
        <thead>
          <tr>
            <th>Note</th>
            <th>Deleted</th>
            <th>
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items?.map((t) => (
            <tr>
              <td>{t.originalPath}</td>
              <td>{t.trashedAt ? new Date(t.trashedAt).toLocaleString() : ""}</td>
              <td class="row-actions">
                <button onClick={() => act(() => api.restoreTrash(t.path), `Restored ${t.originalPath}`)} aria-label={`Restore ${t.originalPath}`}>
                  Restore
                </button>
                <button
                  onClick={async () =>
                    (await ui.confirm(`Delete ${t.originalPath} forever?`, "Delete")) &&
                    act(() => api.deleteTrash(t.path), `Deleted ${t.originalPath}`)
                  }
                  aria-label={`Delete ${t.originalPath} forever`}
                >
                  Delete forever
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {items?.length === 0 && <p class="muted">The trash is empty.</p>}
    </section>
  );
}

// ---- settings ----------------------------------------------------------------------------------
export function SettingsPage() {
  const ui = useUi();
  const [theme, setTheme] = useState<Theme>(storedTheme());
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [created, setCreated] = useState<ApiKey | null>(null);
  const refresh = () => api.apiKeys().then(setKeys, (e) => ui.toast((e as Error).message, true));
  useEffect(() => void refresh(), []);
  return (
    <section class="page">
      <h1>Settings</h1>
      <h2>Appearance</h2>
      <fieldset class="radios">
        <legend>Theme</legend>
        {(["light", "dark", "system"] as Theme[]).map((t) => (
          <label>
            <input
              type="radio"
              name="theme"
              checked={theme === t}
              onChange={() => {
                localStorage.setItem("kryton.theme", t);
                applyTheme(t);
                setTheme(t);
              }}
            />
            {t[0].toUpperCase() + t.slice(1)}
          </label>
        ))}
      </fieldset>
      <h2>API keys</h2>
      <p class="muted">Keys let scripts and AI agents use your vault. A read-only key cannot change anything.</p>
      <form
        class="inline-form"
        onSubmit={async (e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const data = new FormData(form);
          try {
            const key = await api.createApiKey(String(data.get("name")), String(data.get("scope")));
            setCreated(key);
            form.reset();
            await refresh();
          } catch (err) {
            ui.toast((err as Error).message, true);
          }
        }}
      >
        <label>
          Name
          <input name="name" required maxLength={100} />
        </label>
        <label for="key-scope">Scope</label>
        <div class="field">
          <select id="key-scope" name="scope">
            <option value="read-write">Read and write</option>
            <option value="read-only">Read only</option>
          </select>
        </div>
        <button class="primary" type="submit">
          Create key
        </button>
      </form>
      {created && (
        <div class="callout" role="alert">
          <p>
            Copy the key for <strong>{created.name}</strong> now: it is shown only once.
          </p>
          <code data-testid="new-key">{created.key}</code>
          <button onClick={() => setCreated(null)}>Done</button>
        </div>
      )}
      <table class="list" aria-label="API keys">
        <thead>
          <tr>
            <th>Name</th>
            <th>Key</th>
            <th>Scope</th>
            <th>Last used</th>
            <th>
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr>
              <td>{k.name}</td>
              <td>
                <code>{k.keyPrefix}…</code>
              </td>
              <td>{k.scope}</td>
              <td>{k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : "never"}</td>
              <td class="row-actions">
                <button
                  aria-label={`Revoke ${k.name}`}
                  onClick={async () => {
                    if (!(await ui.confirm(`Revoke the key ${k.name}?`, "Revoke"))) return;
                    await api.revokeApiKey(k.id);
                    await refresh();
                  }}
                >
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

// ---- admin -------------------------------------------------------------------------------------
export function AdminPage(props: { me: User }) {
  const ui = useUi();
  const [users, setUsers] = useState<User[]>([]);
  const [invites, setInvites] = useState<Invite[]>([]);
  const [mode, setMode] = useState("");
  const [newCode, setNewCode] = useState<string | null>(null);
  const refresh = async () => {
    try {
      const [u, i, m] = await Promise.all([api.users(), api.invites(), api.registration()]);
      setUsers(u);
      setInvites(i);
      setMode(m);
    } catch (e) {
      ui.toast((e as Error).message, true);
    }
  };
  useEffect(() => void refresh(), []);
  const run = async (f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      ui.toast((e as Error).message, true);
    }
    await refresh();
  };
  return (
    <section class="page">
      <h1>Administration</h1>
      <h2>Registration</h2>
      <label>
        Who may sign up
        <select value={mode} onChange={(e) => run(() => api.setRegistration(e.currentTarget.value))} data-testid="registration-mode">
          <option value="open">Anyone</option>
          <option value="invite-only">With an invite code</option>
          <option value="closed">Nobody</option>
        </select>
      </label>
      <h2>Invites</h2>
      <button onClick={() => run(async () => setNewCode((await api.createInvite()).code ?? null))}>Create invite</button>
      {newCode && (
        <div class="callout" role="alert">
          <p>New invite code: give it to the person you invite.</p>
          <code data-testid="new-invite-code">{newCode}</code>
        </div>
      )}
      <table class="list" aria-label="Invites">
        <thead>
          <tr>
            <th>Code</th>
            <th>State</th>
            <th>
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {invites.map((i) => (
            <tr>
              <td>
                <code data-testid="invite-code">{i.code ?? `${i.id.slice(0, 8)}…`}</code>
              </td>
              <td>{i.usedById || (i as { usedBy?: string | null }).usedBy ? "used" : "unused"}</td>
              <td class="row-actions">
                <button aria-label={`Delete invite ${i.code ?? i.id}`} onClick={() => run(() => api.deleteInvite(i.id))}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Users</h2>
      <table class="list" aria-label="Users">
        <thead>
          <tr>
            <th>Name</th>
            <th>Email</th>
            <th>Role</th>
            <th>State</th>
            <th>
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr>
              <td>{u.name}</td>
              <td>{u.email}</td>
              <td>{u.role}</td>
              <td>{u.disabled ? "disabled" : "active"}</td>
              <td class="row-actions">
                {u.id !== props.me.id && (
                  <>
                    <button aria-label={`${u.disabled ? "Enable" : "Disable"} ${u.email}`} onClick={() => run(() => api.updateUser(u.id, { disabled: !u.disabled }))}>
                      {u.disabled ? "Enable" : "Disable"}
                    </button>
                    <button
                      aria-label={`Make ${u.email} ${u.role === "admin" ? "a user" : "an admin"}`}
                      onClick={() => run(() => api.updateUser(u.id, { role: u.role === "admin" ? "user" : "admin" }))}
                    >
                      {u.role === "admin" ? "Make user" : "Make admin"}
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

// ---- palettes ----------------------------------------------------------------------------------
function useListKeys(count: number, onPick: (i: number) => void) {
  const [active, setActive] = useState(0);
  useEffect(() => setActive(0), [count]);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "ArrowDown") (e.preventDefault(), setActive((a) => Math.min(count - 1, a + 1)));
    else if (e.key === "ArrowUp") (e.preventDefault(), setActive((a) => Math.max(0, a - 1)));
    else if (e.key === "Enter" && count) (e.preventDefault(), onPick(active));
  };
  return { active, onKeyDown };
}

export function SearchDialog(props: { onClose: () => void }) {
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    if (!q.trim()) return setHits([]);
    const t = setTimeout(() => {
      api.search(q).then(
        (h) => (setHits(h), setError("")),
        (e) => setError((e as Error).message),
      );
    }, 150);
    return () => clearTimeout(t);
  }, [q]);
  const open = (i: number) => {
    props.onClose();
    navigate(noteUrl(hits[i].path));
  };
  const { active, onKeyDown } = useListKeys(hits.length, open);
  return (
    <Modal title="Search" onClose={props.onClose}>
      <input
        type="search"
        aria-label="Search notes"
        placeholder="Search all notes…"
        value={q}
        onInput={(e) => setQ(e.currentTarget.value)}
        onKeyDown={onKeyDown}
        role="combobox"
        aria-expanded={hits.length > 0}
        aria-controls="search-results"
      />
      {error && <p class="error">{error}</p>}
      <ul class="palette" id="search-results" role="listbox" aria-label="Results">
        {hits.map((h, i) => (
          <li role="option" aria-selected={i === active} class={i === active ? "active" : ""} onClick={() => open(i)}>
            <strong>{h.title || h.path}</strong> <span class="muted">{h.path}</span>
            {/* Snippets come from the server as text with the match marked by ** or <b>: shown as text. */}
            <div class="snippet">{h.snippet}</div>
          </li>
        ))}
        {q.trim() && !hits.length && !error && <li class="muted">No matches.</li>}
      </ul>
    </Modal>
  );
}

export function SwitcherDialog(props: { paths: string[]; onClose: () => void }) {
  const [q, setQ] = useState("");
  const matches = useMemo(() => {
    const needle = q.toLowerCase();
    const scored = props.paths
      .map((p) => ({ p, i: p.toLowerCase().indexOf(needle) }))
      .filter((x) => x.i >= 0)
      .sort((a, b) => a.i - b.i || a.p.length - b.p.length);
    return scored.slice(0, 50).map((x) => x.p);
  }, [q, props.paths]);
  const open = (i: number) => {
    props.onClose();
    navigate(noteUrl(matches[i]));
  };
  const { active, onKeyDown } = useListKeys(matches.length, open);
  return (
    <Modal title="Open note" onClose={props.onClose}>
      <input
        aria-label="Note name"
        placeholder="Type a note name…"
        value={q}
        onInput={(e) => setQ(e.currentTarget.value)}
        onKeyDown={onKeyDown}
        role="combobox"
        aria-expanded={matches.length > 0}
        aria-controls="switcher-results"
      />
      <ul class="palette" id="switcher-results" role="listbox" aria-label="Notes">
        {matches.map((p, i) => (
          <li role="option" aria-selected={i === active} class={i === active ? "active" : ""} onClick={() => open(i)}>
            {p.replace(/\.md$/, "")}
          </li>
        ))}
      </ul>
    </Modal>
  );
}

/** One action of the command palette. */
export interface Command {
  label: string;
  /** The shortcut that does the same, shown next to the label. */
  keys?: string;
  run: () => unknown;
}

/** Every action by name (Ctrl+Shift+P): type to filter, arrows to choose, Enter to run. */
export function CommandPalette(props: { commands: Command[]; onClose: () => void }) {
  const [q, setQ] = useState("");
  const matches = useMemo(() => {
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    return props.commands.filter((c) => words.every((w) => c.label.toLowerCase().includes(w)));
  }, [q, props.commands]);
  const run = (i: number) => {
    props.onClose();
    void matches[i].run();
  };
  const { active, onKeyDown } = useListKeys(matches.length, run);
  return (
    <Modal title="Commands" onClose={props.onClose}>
      <input
        aria-label="Command"
        placeholder="Type a command…"
        value={q}
        onInput={(e) => setQ(e.currentTarget.value)}
        onKeyDown={onKeyDown}
        role="combobox"
        aria-expanded={matches.length > 0}
        aria-controls="command-results"
        aria-activedescendant={matches.length ? `command-${active}` : undefined}
      />
      <ul class="palette" id="command-results" role="listbox" aria-label="Commands">
        {matches.map((c, i) => (
          <li id={`command-${i}`} role="option" aria-selected={i === active} class={i === active ? "active" : ""} onClick={() => run(i)}>
            {c.label} {c.keys && <kbd>{c.keys}</kbd>}
          </li>
        ))}
        {!matches.length && <li class="muted">No command matches.</li>}
      </ul>
    </Modal>
  );
}
