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
};
