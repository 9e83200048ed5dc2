// Small DOM helpers: elements built with properties (never from HTML strings, so message text can
// never become markup) and the few icons the views share.

/** Creates an element: h("p", { className: "x", dataset: { testid: "y" } }, "text", child). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key in el && !key.startsWith("aria")) el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An icon from a list of path descriptions, drawn with currentColor (24x24 grid). */
export function icon(paths, className = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of paths) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

export const ICONS = {
  clock: ["M12 7v5l3 2", "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z"],
  check: ["M5 12.5l4.5 4.5L19 7.5"],
  doubleCheck: ["M2 12.5l4.5 4.5L16 7.5", "M11.5 16l1 1L22 7.5"],
  alert: ["M12 8v5", "M12 16.5v.5", "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z"],
  reply: ["M10 8L5 12l5 4", "M5 12h9a5 5 0 0 1 5 5v1"],
  pencil: ["M4 20h4L19 9l-4-4L4 16z", "M13.5 6.5l4 4"],
  trash: ["M4 7h16", "M10 11v6", "M14 11v6", "M6 7l1 13h10l1-13", "M9 7V4h6v3"],
  ban: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M5.6 5.6l12.8 12.8"],
  file: ["M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z", "M14 3v5h5"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
};
