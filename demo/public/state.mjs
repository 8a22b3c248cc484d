// The demo's shared state: who is signed in, the open stores and what the views render from them.
// app.mjs fills it; board.mjs and panels.mjs read it and write through the stores.
import { colorFor } from './ui.mjs';

export const app = {
  /** {user, role, token, expiresAt, relay} (kept in localStorage: reloads work offline). */
  session: null,
  readOnly: false,
  /** The user chose to work offline (Go offline); kept across reloads. */
  manualOffline: false,
  /** The boards directory store and its documents. */
  dir: null,
  boards: [],
  /** The open board: {id, store, columns, cards, members, conflicts, presence}, or null. */
  board: null,
  /** site id -> user name, learned from presence, for "who" in the conflict inbox. */
  siteUsers: {},
};

const SITES_KEY = 'syncore-demo:sites';
try {
  app.siteUsers = JSON.parse(localStorage.getItem(SITES_KEY) ?? '{}') ?? {};
} catch {
  app.siteUsers = {};
}

/** Remembers which user a site id belongs to (presence tells; conflict records only carry sites). */
export function learnSite(site, user) {
  if (!site || typeof user !== 'string' || app.siteUsers[site] === user) return;
  app.siteUsers[site] = user;
  try {
    localStorage.setItem(SITES_KEY, JSON.stringify(app.siteUsers));
  } catch {
    // storage full or denied: names are a nicety
  }
}

/** Who wrote a conflict value: 'you', a user seen on the board, or a neutral fallback. */
export function whoWrote(stamp) {
  if (!stamp?.site) return 'someone';
  if (app.board && stamp.site === app.board.siteId) return 'you';
  return app.siteUsers[stamp.site] ?? 'someone else';
}

/** Announces this user on the board (presence): patch {card} says which card is being edited. */
export function announce(patch = {}) {
  const b = app.board;
  if (!b || !app.session) return;
  b.presence = { user: app.session.user, role: app.session.role, color: colorFor(app.session.user), card: null, ...b.presence, ...patch };
  try {
    b.store.presence.set(b.presence);
  } catch {
    // a closed store (switching boards): nothing to announce
  }
}

/** Cards of the open board: the collection, or null. */
export const cardsOf = () => app.board?.store.collection('cards') ?? null;
export const columnsOf = () => app.board?.store.collection('columns') ?? null;

/** The column's title by id (conflicts and dialogs show names, not ids). */
export function columnTitle(id) {
  return app.board?.columns.find((c) => c.id === id)?.title ?? id;
}
