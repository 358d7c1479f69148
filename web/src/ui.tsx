// Small shared pieces: routing on the History API, a modal dialog, a prompt, toasts, the theme.
import { createContext, type ComponentChildren } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import { Icon } from "./icons";

// ---- routing -----------------------------------------------------------------------------------
type Listener = () => void;
const listeners = new Set<Listener>();
export function navigate(to: string, replace = false) {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((l) => l());
}
window.addEventListener("popstate", () => listeners.forEach((l) => l()));
export function useLocation(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const l = () => setPath(location.pathname);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return path;
}
export function notePathFromUrl(pathname: string): string | null {
  if (!pathname.startsWith("/notes/")) return null;
  return pathname.slice(7).split("/").map(decodeURIComponent).join("/");
}
export const noteUrl = (path: string) => `/notes/${path.split("/").map(encodeURIComponent).join("/")}`;

/** Intercepts clicks on same-origin links so they route inside the app. */
export function onLinkClick(event: MouseEvent) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const a = (event.target as HTMLElement).closest?.("a");
  if (!a || a.target || !a.getAttribute("href")?.startsWith("/")) return;
  event.preventDefault();
  navigate(a.getAttribute("href")!);
}

// ---- modal -------------------------------------------------------------------------------------
export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>("input, textarea, select, button:not(.close)");
    first?.focus();
    return () => previous?.focus?.();
  }, []);
  return (
    <div class="backdrop" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div
        ref={ref}
        class={props.wide ? "modal wide" : "modal"}
        role="dialog"
        aria-modal="true"
        aria-label={props.title}
        onKeyDown={(e) => e.key === "Escape" && (e.stopPropagation(), props.onClose())}
      >
        <header>
          <h2>{props.title}</h2>
          <button class="close" aria-label="Close" onClick={props.onClose}>
            <Icon name="close" size={18} />
          </button>
        </header>
        {props.children}
      </div>
    </div>
  );
}

// ---- prompt / confirm / toast ------------------------------------------------------------------
interface Ask {
  title: string;
  label?: string;
  initial?: string;
  confirmOnly?: boolean;
  action?: string;
  resolve: (v: string | null) => void;
}
interface UiApi {
  ask(title: string, label: string, initial?: string, action?: string): Promise<string | null>;
  confirm(title: string, action?: string): Promise<boolean>;
  toast(message: string, error?: boolean): void;
}
export const UiContext = createContext<UiApi>(null as unknown as UiApi);
export const useUi = () => useContext(UiContext);

export function UiProvider(props: { children: ComponentChildren }) {
  const [ask, setAsk] = useState<Ask | null>(null);
  const [toasts, setToasts] = useState<{ id: number; message: string; error: boolean }[]>([]);
  const api = useRef<UiApi>({
    ask: (title, label, initial = "", action = "OK") =>
      new Promise((resolve) => setAsk({ title, label, initial, action, resolve })),
    confirm: (title, action = "OK") =>
      new Promise((resolve) => setAsk({ title, confirmOnly: true, action, resolve: (v) => resolve(v !== null) })),
    toast: (message, error = false) => {
      const id = Math.random();
      setToasts((t) => [...t, { id, message, error }]);
      setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), error ? 8000 : 3000);
    },
  });
  const close = (v: string | null) => {
    ask?.resolve(v);
    setAsk(null);
  };
  return (
    <UiContext.Provider value={api.current}>
      {props.children}
      {ask && (
        <Modal title={ask.title} onClose={() => close(null)}>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              const value = (new FormData(e.currentTarget).get("value") as string | null) ?? "";
              close(ask.confirmOnly ? "yes" : value.trim() || null);
            }}
          >
            {!ask.confirmOnly && (
              <label>
                {ask.label}
                <input name="value" defaultValue={ask.initial} autoComplete="off" />
              </label>
            )}
            <div class="actions">
              <button type="button" onClick={() => close(null)}>
                Cancel
              </button>
              <button type="submit" class="primary">
                {ask.action}
              </button>
            </div>
          </form>
        </Modal>
      )}
      <div class="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} class={t.error ? "toast error" : "toast"}>
            {t.message}
          </div>
        ))}
      </div>
    </UiContext.Provider>
  );
}

// ---- theme -------------------------------------------------------------------------------------
export type Theme = "light" | "dark" | "system";
export function applyTheme(theme: Theme) {
  const dark = theme === "dark" || (theme === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}
export function storedTheme(): Theme {
  const t = localStorage.getItem("kryton.theme");
  return t === "light" || t === "dark" ? t : "system";
}
export const isDark = () => document.documentElement.dataset.theme === "dark";
