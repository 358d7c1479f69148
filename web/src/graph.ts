// The graph view, loaded lazily: graphology holds the graph, ForceAtlas2 lays it out (a bounded
// number of synchronous iterations with Barnes-Hut on big graphs), sigma draws it with WebGL.
import Graph from "graphology";
import forceAtlas2 from "graphology-layout-forceatlas2";
import Sigma from "sigma";
import type { GraphData } from "./api";

export interface GraphHandle {
  destroy(): void;
  nodeCount: number;
  edgeCount: number;
}

export function drawGraph(
  container: HTMLElement,
  data: GraphData,
  opts: { focus?: string; depth?: number; dark: boolean; onOpen: (path: string) => void },
): GraphHandle {
  const started = performance.now();
  const graph = new Graph({ multi: false, type: "directed" });
  let keep: Set<string> | null = null;
  if (opts.focus) {
    // Local graph: the note and its neighbours up to `depth` links away, either direction.
    const adjacent = new Map<string, string[]>();
    for (const e of data.edges) {
      (adjacent.get(e.from) ?? adjacent.set(e.from, []).get(e.from)!).push(e.to);
      (adjacent.get(e.to) ?? adjacent.set(e.to, []).get(e.to)!).push(e.from);
    }
    keep = new Set([opts.focus]);
    let frontier = [opts.focus];
    for (let d = 0; d < (opts.depth ?? 1); d++) {
      const next: string[] = [];
      for (const n of frontier) for (const m of adjacent.get(n) ?? []) if (!keep.has(m)) (keep.add(m), next.push(m));
      frontier = next;
    }
  }
  const degree = new Map<string, number>();
  for (const e of data.edges) {
    degree.set(e.from, (degree.get(e.from) ?? 0) + 1);
    degree.set(e.to, (degree.get(e.to) ?? 0) + 1);
  }
  const nodes = data.nodes.filter((n) => !keep || keep.has(n.path));
  const count = nodes.length;
  nodes.forEach((n, i) => {
    const angle = (i / Math.max(count, 1)) * Math.PI * 2;
    const radius = 10 + (i % 7);
    graph.addNode(n.path, {
      label: n.title || n.path,
      x: Math.cos(angle) * radius,
      y: Math.sin(angle) * radius,
      size: 3 + Math.min(12, Math.sqrt(degree.get(n.path) ?? 0) * 1.5),
      color: n.path === opts.focus ? "#e8590c" : opts.dark ? "#9d8cff" : "#5b4bd6",
    });
  });
  for (const e of data.edges) {
    if (graph.hasNode(e.from) && graph.hasNode(e.to) && e.from !== e.to && !graph.hasEdge(e.from, e.to)) {
      graph.addEdge(e.from, e.to, { color: opts.dark ? "#555" : "#c8c8d0", size: 1 });
    }
  }
  if (count > 1) {
    const settings = forceAtlas2.inferSettings(graph);
    const iterations = count > 2000 ? 40 : count > 500 ? 80 : 150;
    forceAtlas2.assign(graph, { iterations, settings: { ...settings, barnesHutOptimize: count > 300 } });
  }
  const renderer = new Sigma(graph, container, {
    labelColor: { color: opts.dark ? "#ddd" : "#222" },
    labelRenderedSizeThreshold: count > 500 ? 10 : 4,
    renderEdgeLabels: false,
  });
  renderer.on("clickNode", ({ node }) => opts.onOpen(node));
  renderer.on("enterNode", () => (container.style.cursor = "pointer"));
  renderer.on("leaveNode", () => (container.style.cursor = ""));
  renderer.refresh();
  const ms = performance.now() - started;
  container.dataset.drawMs = ms.toFixed(0);
  (window as unknown as { __krytonGraphDrawMs?: number }).__krytonGraphDrawMs = ms;
  return { destroy: () => renderer.kill(), nodeCount: graph.order, edgeCount: graph.size };
}
