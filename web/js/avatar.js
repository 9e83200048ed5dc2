// An avatar from a person's initials, coloured by their username (no images to load).
import { h } from "./dom.js";
import { avatarColourClass, initials } from "./format.js";

export function avatar(user, size = "") {
  return h("span", { className: `avatar ${avatarColourClass(user)} ${size}`.trim(), "aria-hidden": "true" }, initials(user));
}
