// The asset graph: laid out by dagre (vendor/dagre.min.js, a layered DAG layout), drawn as SVG.
// The server sends at most a neighbourhood of the graph (GRAPH_LIMIT nodes), so this stays fast.
"use strict";
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const el = (name, attrs) => {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  };

  function draw() {
    const source = document.getElementById("graph-data");
    const canvas = document.getElementById("graph");
    if (!source || !canvas) return;
    const data = JSON.parse(source.textContent);
    if (!data.nodes.length) { canvas.textContent = "No assets."; return; }
    const g = new dagre.graphlib.Graph();
    g.setGraph({rankdir: "LR", nodesep: 14, ranksep: 48, marginx: 8, marginy: 8});
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of data.nodes) g.setNode(n.id, {width: Math.min(40 + n.id.length * 7, 260), height: 28, data: n});
    for (const [u, v] of data.edges) g.setEdge(u, v);
    dagre.layout(g);
    // the drawing's extent: nodes and every edge point (long edges may bend outside the ranks)
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    const extend = (x, y) => { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); };
    for (const id of g.nodes()) {
      const b = g.node(id);
      extend(b.x - b.width / 2, b.y - b.height / 2);
      extend(b.x + b.width / 2, b.y + b.height / 2);
    }
    for (const e of g.edges()) for (const p of g.edge(e).points) extend(p.x, p.y);
    const [width, height] = [x1 - x0 + 16, y1 - y0 + 16];
    const svg = el("svg", {viewBox: `${x0 - 8} ${y0 - 8} ${width} ${height}`, width: width, height: height, role: "img"});
    const defs = el("defs");
    const marker = el("marker", {id: "arrow", viewBox: "0 0 8 8", refX: 8, refY: 4, markerWidth: 7,
                                 markerHeight: 7, orient: "auto"});
    marker.appendChild(el("path", {d: "M0,0 L8,4 L0,8 z", class: "arrowhead"}));
    defs.appendChild(marker);
    svg.appendChild(defs);
    for (const e of g.edges()) {
      const pts = g.edge(e).points.map((p) => `${p.x},${p.y}`).join(" ");
      svg.appendChild(el("polyline", {points: pts, class: "edge", "marker-end": "url(#arrow)"}));
    }
    for (const id of g.nodes()) {
      const box = g.node(id);
      const link = el("a", {href: box.data.href, class: "node s-" + box.data.status + (box.data.focus ? " focus" : ""),
                            "data-asset": id});
      link.appendChild(el("rect", {x: box.x - box.width / 2, y: box.y - box.height / 2, width: box.width,
                                   height: box.height, rx: 5}));
      const text = el("text", {x: box.x, y: box.y + 4, "text-anchor": "middle"});
      text.textContent = id;
      const title = el("title");
      title.textContent = `${id}: ${box.data.status}`;
      link.append(text, title);
      svg.appendChild(link);
    }
    canvas.replaceChildren(svg);
    canvas.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
