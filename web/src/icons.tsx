// The app's icons as inline SVG (stroked paths on a 24-unit grid, drawn in currentColor), so they
// render the same everywhere: no icon font to load and no reliance on the system having glyphs
// such as 🗑 (headless Chromium on a server has no emoji font and drew empty boxes).
import type { JSX } from "preact";

const PATHS = {
  menu: "M4 6h16M4 12h16M4 18h16",
  pencil: "M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
  plus: "M12 5v14M5 12h14",
  folderPlus: "M3 6h6l2 2h10v11H3zM12 11v6M9 14h6",
  chevronRight: "M9 6l6 6-6 6",
  chevronDown: "M6 9l6 6 6-6",
  close: "M6 6l12 12M18 6L6 18",
  star: "M12 3l2.8 5.7 6.2.9-4.5 4.4 1.1 6.2L12 17.3 6.4 20.2l1.1-6.2L3 9.6l6.2-.9z",
  command: "M9 6a3 3 0 1 0-3 3h12a3 3 0 1 0-3-3v12a3 3 0 1 0 3-3H6a3 3 0 1 0 3 3z",
} as const;

export type IconName = keyof typeof PATHS;

/** A decorative icon: the control around it carries the accessible name. */
export function Icon(props: { name: IconName; filled?: boolean; size?: number } & JSX.HTMLAttributes<SVGSVGElement>) {
  const { name, filled, size = 16, ...rest } = props;
  return (
    <svg
      class="icon"
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill={filled ? "currentColor" : "none"}
      stroke="currentColor"
      stroke-width="2"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
      focusable="false"
      {...rest}
    >
      <path d={PATHS[name]} />
    </svg>
  );
}
