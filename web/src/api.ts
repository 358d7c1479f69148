// The one place the app talks to the server. Shapes follow the original Kryton's contract
// (docs in shared/design/kryton-api-compat.md); where this server still answers an older wrapped
// shape ({results}, {backlinks}, {notes}, source/target edges) the readers below accept both.

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public code?: string,
    public body?: unknown,
  ) {
    super(message);
  }
}

export interface User {
  id: string;
  email: string;
  name: string;
  role: string;
  disabled?: boolean;
}
export interface TreeEntry {
  name: string;
  path: string;
  type: "folder" | "file";
  children?: TreeEntry[];
}
export interface Note {
  path: string;
  title: string;
  content: string;
  modifiedAt?: string;
  etag: string;
  tags?: string[];
  links?: unknown[];
}
export interface SearchHit {
  path: string;
  title: string;
  snippet: string;
  tags?: string[];
}
export interface Backlink {
  path: string;
  title: string;
}
export interface TagCount {
  tag: string;
  count: number;
}
export interface GraphData {
  nodes: { id: string; path: string; title: string }[];
  edges: { from: string; to: string }[];
}
export interface Version {
  timestamp: number | string;
  size?: number;
  date?: string;
}
export interface TrashItem {
  path: string;
  originalPath: string;
  trashedAt?: string;
}
export interface ApiKey {
  id: string;
  name: string;
  keyPrefix: string;
  scope: string;
  createdAt?: string;
  lastUsedAt?: string | null;
  key?: string;
}
export interface Invite {
  id: string;
  code?: string;
  usedById?: string | null;
  createdAt?: string;
  expiresAt?: string | null;
}
export interface AuthConfig {
  registrationMode?: string;
  inviteRequired?: boolean;
}

/** Encodes a vault path for a URL, segment by segment (slashes stay). */
export function encPath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

async function request<T>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ data: T; response: Response }> {
  const init: RequestInit = { method, headers: { ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const b = (data ?? {}) as { error?: unknown; message?: unknown; code?: unknown };
    const message =
      typeof b.error === "string" ? b.error : typeof b.message === "string" ? b.message : response.statusText;
    throw new ApiError(response.status, message || `HTTP ${response.status}`, typeof b.code === "string" ? b.code : undefined, data);
  }
  return { data: data as T, response };
}

const get = async <T>(url: string) => (await request<T>("GET", url)).data;
const post = async <T>(url: string, body?: unknown) => (await request<T>("POST", url, body ?? {})).data;
const put = async <T>(url: string, body?: unknown) => (await request<T>("PUT", url, body ?? {})).data;
const del = async <T>(url: string) => (await request<T>("DELETE", url)).data;

/** An array at the top level, or the array under `key` in an older wrapped answer. */
function arrayOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[];
  const inner = (body as Record<string, unknown> | null)?.[key];
  return Array.isArray(inner) ? (inner as T[]) : [];
}

function etagOf(response: Response, body: { etag?: string }): string {
  return body.etag ?? response.headers.get("ETag")?.replace(/^W\//, "").replace(/"/g, "") ?? "";
}

export const api = {
  async session(): Promise<User | null> {
    const body = await get<{ user?: User } | null>("/api/auth/get-session");
    return body?.user ?? null;
  },
  async authConfig(): Promise<AuthConfig> {
    try {
      return await get<AuthConfig>("/api/auth/config");
    } catch {
      return {};
    }
  },
  signIn: (email: string, password: string) => post<{ user: User }>("/api/auth/sign-in/email", { email, password }),
  signUp: (email: string, password: string, name: string, inviteCode?: string) =>
    post<{ user: User }>("/api/auth/sign-up/email", { email, password, name, ...(inviteCode ? { inviteCode } : {}) }),
  signOut: () => post("/api/auth/sign-out"),

  tree: () => get<TreeEntry[]>("/api/notes"),
  async note(path: string): Promise<Note> {
    const { data, response } = await request<Note>("GET", `/api/notes/${encPath(path)}`);
    return { ...data, etag: etagOf(response, data) };
  },
  /** Creates a note; refuses to overwrite one that exists (If-None-Match: *). */
  async create(path: string, content: string): Promise<string> {
    const { data, response } = await request<{ etag?: string }>("POST", "/api/notes", { path, content }, { "If-None-Match": "*" });
    return etagOf(response, data);
  },
  /** Saves a note only if it is still the version `etag` (a 412 otherwise). */
  async save(path: string, content: string, etag: string): Promise<string> {
    const headers: Record<string, string> = etag ? { "If-Match": `"${etag}"` } : {};
    const { data, response } = await request<{ etag?: string }>("PUT", `/api/notes/${encPath(path)}`, { content }, headers);
    return etagOf(response, data);
  },
  remove: (path: string) => del(`/api/notes/${encPath(path)}`),
  rename: (path: string, newPath: string) => post<{ path?: string; newPath?: string }>(`/api/notes-rename/${encPath(path)}`, { newPath }),
  createFolder: (path: string) => post("/api/folders", { path }),
  removeFolder: (path: string) => del(`/api/folders/${encPath(path)}`),
  renameFolder: (path: string, newPath: string) => post(`/api/folders-rename/${encPath(path)}`, { newPath }),

  async search(q: string): Promise<SearchHit[]> {
    return arrayOf<SearchHit>(await get(`/api/search?q=${encodeURIComponent(q)}`), "results");
  },
  async backlinks(path: string): Promise<Backlink[]> {
    const list = arrayOf<Backlink>(await get(`/api/backlinks/${encPath(path)}`), "backlinks");
    const seen = new Set<string>();
    return list.filter((b) => !seen.has(b.path) && seen.add(b.path));
  },
  async tags(): Promise<TagCount[]> {
    return arrayOf<TagCount>(await get("/api/tags"), "tags");
  },
  async tagNotes(tag: string): Promise<Backlink[]> {
    const list = arrayOf<{ path?: string; notePath?: string; title: string }>(
      await get(`/api/tags/${encodeURIComponent(tag)}/notes`),
      "notes",
    );
    return list.map((n) => ({ path: n.path ?? n.notePath ?? "", title: n.title }));
  },
  async graph(): Promise<GraphData> {
    const body = await get<{
      nodes: { id: string; path?: string; title: string }[];
      edges: { fromPath?: string; toPath?: string; source?: string; target?: string }[];
    }>("/api/graph");
    const nodes = body.nodes.map((n) => ({ id: n.path ?? n.id, path: n.path ?? n.id, title: n.title }));
    const edges = body.edges
      .map((e) => ({ from: e.fromPath ?? e.source ?? "", to: e.toPath ?? e.target ?? "" }))
      .filter((e) => e.from && e.to);
    return { nodes, edges };
  },
  async history(path: string): Promise<Version[]> {
    return arrayOf<Version>(await get(`/api/history/${encPath(path)}`), "versions");
  },
  async historyVersion(path: string, ts: string | number): Promise<string> {
    const body = await get<{ content: string }>(`/api/history-version/${encPath(path)}?ts=${encodeURIComponent(String(ts))}`);
    return body.content;
  },
  restoreVersion: (path: string, ts: string | number) =>
    post(`/api/history-restore/${encPath(path)}?ts=${encodeURIComponent(String(ts))}`),

  async trash(): Promise<TrashItem[]> {
    // The original's {path,trashedAt}; this server's older {trashPath,deletedAt} is read too.
    type Raw = TrashItem & { trashPath?: string; deletedAt?: number | string };
    return arrayOf<Raw>(await get("/api/trash"), "items").map((t) => ({
      path: t.path ?? t.trashPath ?? t.originalPath,
      originalPath: t.originalPath,
      trashedAt: t.trashedAt ?? (t.deletedAt !== undefined ? new Date(t.deletedAt).toISOString() : undefined),
    }));
  },
  restoreTrash: (id: string) => post(`/api/trash/restore/${encPath(id)}`),
  deleteTrash: (id: string) => del(`/api/trash/${encPath(id)}`),
  emptyTrash: () => del("/api/trash-empty"),

  daily: () => post<{ path: string; content: string }>("/api/daily"),

  /** Every per-user setting (string values; `starred` is a JSON array of note paths). */
  settings: () => get<Record<string, string>>("/api/settings"),
  putSetting: (key: string, value: string) => put(`/api/settings/${encodeURIComponent(key)}`, { value }),

  /** Uploads a file (multipart field `file`); the answer says where it is served. */
  async upload(file: File): Promise<{ path: string; url: string }> {
    const form = new FormData();
    form.append("file", file, file.name);
    const response = await fetch("/api/files", { method: "POST", body: form, credentials: "same-origin" });
    const body = (await response.json().catch(() => ({}))) as { path?: string; url?: string; error?: string };
    if (!response.ok || !body.url || !body.path) throw new ApiError(response.status, body.error ?? `upload failed (HTTP ${response.status})`);
    return { path: body.path, url: body.url };
  },
  async templates(): Promise<{ name: string; path: string }[]> {
    // [{name,path}] in the original's contract; a plain list of names is accepted too.
    return arrayOf<string | { name: string; path: string }>(await get("/api/templates"), "templates").map((t) =>
      typeof t === "string" ? { name: t, path: `Templates/${t}.md` } : t,
    );
  },
  template: (name: string) => get<{ name: string; content: string }>(`/api/templates/${encodeURIComponent(name)}`),

  async apiKeys(): Promise<ApiKey[]> {
    return arrayOf<ApiKey>(await get("/api/api-keys"), "keys");
  },
  createApiKey: (name: string, scope: string) => post<ApiKey>("/api/api-keys", { name, scope }),
  revokeApiKey: (id: string) => del(`/api/api-keys/${encodeURIComponent(id)}`),

  async users(): Promise<User[]> {
    return arrayOf<User>(await get("/api/admin/users"), "users");
  },
  updateUser: (id: string, change: Partial<Pick<User, "role" | "disabled">>) =>
    put(`/api/admin/users/${encodeURIComponent(id)}`, change),
  async invites(): Promise<Invite[]> {
    return arrayOf<Invite>(await get("/api/admin/invites"), "invites");
  },
  createInvite: () => post<Invite>("/api/admin/invites", {}),
  deleteInvite: (id: string) => del(`/api/admin/invites/${encodeURIComponent(id)}`),
  async registration(): Promise<string> {
    return (await get<{ mode: string }>("/api/admin/registration")).mode;
  },
  setRegistration: (mode: string) => put("/api/admin/registration", { mode }),
};
