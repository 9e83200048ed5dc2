// An avatar from a person's initials, coloured by their username (no images to load); a deleted
// account has a plain grey one with no letters, and an online person a green dot on theirs.
import { h } from "./dom.js";
import { avatarColourClass, initials, isDeleted } from "./format.js";

export function avatar(user, size = "", { online = false } = {}) {
  const deleted = isDeleted(user);
  const className = `avatar ${deleted ? "avatar--deleted" : avatarColourClass(user)} ${size}`.trim();
  return h("span", { className, "aria-hidden": "true" },
    deleted ? "" : initials(user),
    online ? h("span", { className: "presence-dot", dataset: { testid: "presence-dot" } }) : null);
}
