// The demo's entry: sign-in and tokens, the stores (a boards directory and one store per board), the
// status bar and the Go offline switch, presence, and the board list. Everything goes through the public
// syncore API (openStore and what a Store offers); board.mjs renders the board, panels.mjs the
// conflict inbox and the history.
import { openStore } from '/pkg/js/index.mjs';
import { renderBoard, resetBoardView, setupCardDialog } from './board.mjs';
import { closePanel, openPanel, refreshConflicts, renderHistory, setupPanels } from './panels.mjs';
import { announce, app, learnSite } from './state.mjs';
import { $, avatar, colorFor, editInPlace, formatTime, h, plural, rid, toast } from './ui.mjs';

const SESSION_KEY = 'syncore-demo:session';
const OFFLINE_KEY = 'syncore-demo:offline';
const lastBoardKey = (user) => `syncore-demo:last-board:${user}`;
const SCHEMA = 1;
const USER_RE = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,39}$/u;
const DEFAULT_COLUMNS = [
  { id: 'todo', title: 'To do', order: 1 },
  { id: 'doing', title: 'Doing', order: 2 },
  { id: 'done', title: 'Done', order: 3 },
];

// ----------------------------------------------------------------------------------------- views
function show(view) {
  document.body.dataset.view = view;
  $('#boot').hidden = true;
  $('#signin').hidden = view !== 'signin';
  $('#app').hidden = view !== 'app';
}

function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('./sw.js').catch((err) => console.warn('service worker not registered:', err));
  navigator.serviceWorker.ready.then(async (reg) => {
    // what this page loaded (before the worker controlled it) is kept too: a module the package adds later
    // and the worker's list lacks still works offline
    const urls = performance.getEntriesByType('resource').map((e) => e.name)
      .filter((u) => u.startsWith(location.origin) && !new URL(u).pathname.startsWith('/api/'));
    await new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = resolve;
      reg.active.postMessage({ t: 'keep', urls }, [channel.port2]);
      setTimeout(resolve, 5000);
    });
    $('#offline-ready').hidden = false;
    document.body.dataset.offlineReady = 'true';
  });
}

// -------------------------------------------------------------------------------- session, tokens
function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY));
    if (s && typeof s.user === 'string' && typeof s.token === 'string' && (s.role === 'editor' || s.role === 'viewer')) return s;
  } catch {
    // a damaged session: sign in again
  }
  return null;
}

function saveSession(s) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(s));
}

async function requestToken(user, role) {
  const res = await fetch('/api/dev-token', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, role }),
  });
  let body = {};
  try {
    body = await res.json();
  } catch {
    // not JSON: the status says enough
  }
  if (!res.ok) throw new Error(body.error ?? `the server answered ${res.status}`);
  return { user: body.user, role: body.role, token: body.token, expiresAt: body.expiresAt, relay: body.relay };
}

/** The stores' token provider: the saved token; a new one when the relay says it is stale or it expires. */
async function provideToken({ stale }) {
  const s = app.session;
  if (!s) throw new Error('signed out');
  const expiring = !(s.expiresAt > Date.now() + 60_000);
  if ((stale || expiring) && navigator.onLine) {
    try {
      const fresh = await requestToken(s.user, s.role);
      if (app.session?.user === s.user) {
        app.session = { ...app.session, ...fresh };
        saveSession(app.session);
      }
      return fresh.token;
    } catch (err) {
      if (expiring) throw err;
    }
  }
  return s.token;
}

/** The relay's address may change between server runs: ask (briefly) when online. */
async function refreshConfig() {
  if (!navigator.onLine) return;
  try {
    const res = await fetch('/api/config', { signal: AbortSignal.timeout(1500) });
    const cfg = await res.json();
    if (res.ok && typeof cfg.relay === 'string' && cfg.relay !== app.session.relay) {
      app.session = { ...app.session, relay: cfg.relay };
      saveSession(app.session);
    }
  } catch {
    // offline or slow: the saved address will do
  }
}

// ---------------------------------------------------------------------------------------- stores
function onStoreError(err) {
  const code = err?.code ?? '';
  if (code === 'DISCONNECTED' || code === 'CLOSED') return;
  if ((app.manualOffline || !navigator.onLine) && (code === 'NETWORK' || code === 'AUTH')) return; // expected offline
  const message = err?.relayCode === 'forbidden' ? `The relay refused the change: ${err.message.replace(/^relay: /, '')}` : err?.message ?? String(err);
  toast(message, { kind: 'error', ms: 8000 });
}

// Another tab of this app may hold a store's relay connection (one tab leads); the package mirrors its
// status and presence in every tab and carries out connect()/disconnect() there, so tabs need not care.
function watchStore(store, offs) {
  offs.push(store.on('status', () => {
    renderStatus();
    if (app.board?.store === store) refreshConflicts(); // a resolution made elsewhere may clear a record without changing the card
  }));
  offs.push(store.on('error', onStoreError));
  offs.push(store.on('outdated', () => toast('This board was saved by a newer version of the app: it is read-only here until you reload.', {
    kind: 'error', ms: 20_000, action: { label: 'Reload', run: () => location.reload() },
  })));
}

async function openDirectory() {
  const s = app.session;
  const store = await openStore({
    name: `demo:${s.user}:boards`, relay: s.relay, channel: 'boards', token: provideToken,
    collections: { boards: {} }, schemaVersion: SCHEMA, connect: !app.manualOffline,
  });
  app.dir = store;
  app.dirOffs = [];
  watchStore(store, app.dirOffs);
  app.dirOffs.push(store.collection('boards').subscribe({ orderBy: 'createdAt' }, (docs) => {
    app.boards = docs;
    renderBoardList();
    renderHeading();
    if (!app.board) renderBoard();
  }));
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    renderBoard();
  });
}

let opening = 0;
async function openBoard(id) {
  const seq = ++opening;
  await closeBoard();
  if (seq !== opening || !app.session) return;
  const s = app.session;
  let store;
  try {
    store = await openStore({
      name: `demo:${s.user}:board:${id}`, relay: s.relay, channel: `board-${id}`, token: provideToken,
      collections: { columns: {}, cards: { conflicts: 'manual' } }, schemaVersion: SCHEMA, connect: !app.manualOffline,
    });
  } catch (err) {
    toast(`Could not open the board: ${err.message}`, { kind: 'error' });
    return;
  }
  if (seq !== opening || !app.session) {
    await store.close();
    return;
  }
  const b = { id, store, siteId: store.siteId, columns: [], cards: [], members: [], conflicts: [], presence: null, offs: [] };
  app.board = b;
  b.offs.push(store.collection('columns').subscribe({ orderBy: 'order' }, (docs) => {
    b.columns = docs;
    scheduleRender();
  }));
  b.offs.push(store.collection('cards').subscribe((docs) => {
    b.cards = docs;
    scheduleRender();
    renderConflictsSoon();
  }));
  b.offs.push(store.on('presence', (members) => {
    b.members = members;
    for (const m of members) learnSite(m.site, m.state?.user);
    renderPresence();
    scheduleRender();
  }));
  b.offs.push(store.on('conflict', (records) => {
    refreshConflicts();
    scheduleRender();
    const mine = records.filter((r) => r.collection === 'cards');
    if (mine.length && !app.readOnly) {
      toast(`${plural(mine.length, 'new conflict')} to review.`, { kind: 'warn', action: { label: 'Review', run: () => openPanel('conflicts') } });
    }
  }));
  b.offs.push(store.on('change', renderConflictsSoon));
  watchStore(store, b.offs);
  localStorage.setItem(lastBoardKey(s.user), id);
  if (boardFromHash() !== id) history.replaceState(null, '', `#board=${encodeURIComponent(id)}`);
  refreshConflicts();
  announce({ card: null });
  renderAll();
  renderHistory();
}

let conflictsQueued = false;
function renderConflictsSoon() {
  if (conflictsQueued) return;
  conflictsQueued = true;
  queueMicrotask(() => {
    conflictsQueued = false;
    refreshConflicts();
  });
}

async function closeBoard() {
  const b = app.board;
  if (!b) return;
  app.board = null;
  for (const off of b.offs) off();
  try {
    b.store.presence.set(null);
  } catch {
    // closed already
  }
  resetBoardView();
  await b.store.close().catch((err) => console.warn('closing the board store:', err));
}

async function createBoard(name) {
  const id = rid(8);
  await app.dir.collection('boards').put({ id, name, createdBy: app.session.user, createdAt: Date.now() });
  await openBoard(id);
  if (app.board?.id === id) {
    await app.board.store.transaction((tx) => {
      for (const c of DEFAULT_COLUMNS) tx.collection('columns').put(c);
    });
  }
}

function boardFromHash() {
  const m = /^#board=(.+)$/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

// ------------------------------------------------------------------------------------- rendering
function renderAll() {
  renderHeading();
  renderBoardList();
  renderPresence();
  renderStatus();
  renderBoard();
}

function renderHeading() {
  const b = app.board;
  const doc = b && app.boards.find((x) => x.id === b.id);
  const title = $('#board-title');
  if (title.isConnected) title.textContent = b ? doc?.name ?? 'Board' : 'No board';
  document.title = b ? `${doc?.name ?? 'Board'} · Team board` : 'Team board · syncore demo';
  $('#rename-board').hidden = app.readOnly || !doc;
  $('#view-only').hidden = !app.readOnly;
  $('#conflicts-button').hidden = app.readOnly; // a viewer writes nothing, so has nothing in conflict
  const s = app.session;
  $('#user-avatar').replaceChildren(avatar(s.user));
  $('#user-name').textContent = s.user;
  $('#user-role').textContent = s.role === 'viewer' ? 'viewer' : 'editor';
  document.body.dataset.role = s.role;
}

function renderBoardList() {
  const boards = app.boards;
  $('#board-list').replaceChildren(...boards.map((bd) => h('li', {},
    h('button', {
      type: 'button', class: 'board-item', testid: 'board-item', dataset: { boardId: bd.id },
      'aria-current': app.board?.id === bd.id ? 'page' : null,
      onclick: () => {
        document.body.classList.remove('sidebar-open');
        $('#boards-toggle').setAttribute('aria-expanded', 'false');
        if (app.board?.id !== bd.id) openBoard(bd.id);
      },
    }, h('span', { class: 'board-dot', style: { background: colorFor(bd.id) }, 'aria-hidden': 'true' }), h('span', { class: 'board-name' }, bd.name ?? 'Untitled')))));
  $('#board-list-empty').hidden = boards.length > 0;
  $('#new-board-form').hidden = app.readOnly;
}

function renderPresence() {
  const el = $('#presence');
  const b = app.board;
  const others = new Map();
  for (const m of b?.members ?? []) {
    const u = m.state?.user;
    if (typeof u === 'string' && u !== app.session.user && !others.has(u)) others.set(u, m.state);
  }
  if (!others.size) {
    el.replaceChildren(b ? h('span', { class: 'presence-alone' }, b.store.status.connected ? 'Only you here' : '') : '');
    return;
  }
  el.replaceChildren(h('span', { class: 'presence-label' }, 'Here:'), ...[...others].map(([u, st]) => {
    const editing = typeof st.card === 'string' ? b.cards.find((c) => c.id === st.card) : null;
    const title = `${u}${st.role === 'viewer' ? ' (viewer)' : ''}${editing ? `, editing “${editing.title}”` : ''}`;
    return avatar(u, { testid: 'presence-avatar', title });
  }));
}

function renderStatus() {
  if (!app.session) return;
  const stores = [app.board?.store, app.dir].filter(Boolean);
  const st = stores.map((s) => s.status);
  const main = st[0];
  let state = 'connecting';
  let text = 'Connecting…';
  let hint = 'Trying to reach the relay';
  if (app.manualOffline) [state, text, hint] = ['offline', 'Offline', 'You chose to work offline: changes stay on this device until you go online'];
  else if (!navigator.onLine) [state, text, hint] = ['offline', 'Offline · no network', 'The browser has no network: changes stay on this device'];
  else if (main?.connected) [state, text, hint] = ['online', 'Online', 'Connected to the relay: changes sync live'];
  const conn = $('#status-connection');
  conn.dataset.state = state;
  if (conn.textContent !== text) conn.textContent = text;
  conn.title = hint;

  const pending = st.reduce((n, s) => n + s.pending, 0);
  const pe = $('#status-pending');
  pe.dataset.count = String(pending);
  pe.textContent = pending ? `${plural(pending, 'pending change')}` : 'No pending changes';
  pe.title = 'Changes made here that the relay has not acknowledged yet';
  pe.classList.toggle('is-pending', pending > 0);

  const persisted = st.length > 0 && st.every((s) => s.persisted);
  const pr = $('#status-persisted');
  pr.dataset.state = persisted ? 'yes' : 'no';
  pr.textContent = persisted ? 'Saved on this device' : 'Saving…';

  const synced = st.length > 0 && st.every((s) => s.synced);
  const sy = $('#status-synced');
  sy.dataset.state = synced ? 'yes' : 'no';
  sy.textContent = synced ? 'Synced' : state === 'online' ? 'Syncing…' : state === 'tab' ? 'Sync runs in the other tab' : 'Not synced';

  const last = Math.max(0, ...st.map((s) => s.lastSyncAt ?? 0));
  $('#status-last-sync').textContent = last ? `Last sync ${formatTime(last)}` : state === 'tab' ? '' : 'Never synced';

  const toggle = $('#offline-toggle');
  toggle.setAttribute('aria-pressed', String(app.manualOffline));
  toggle.querySelector('.switch-label').textContent = app.manualOffline ? 'Go online' : 'Go offline';
  toggle.title = app.manualOffline ? 'Reconnect and sync your changes' : 'Work offline on purpose: nothing is sent or received';
  document.body.dataset.connection = state;
}

// ---------------------------------------------------------------------------------------- actions
function setManualOffline(off, { fromOtherTab = false } = {}) {
  app.manualOffline = off;
  if (!fromOtherTab) {
    if (off) localStorage.setItem(OFFLINE_KEY, '1');
    else localStorage.removeItem(OFFLINE_KEY);
  }
  const stores = [app.dir, app.board?.store].filter(Boolean);
  if (off) {
    for (const s of stores) s.disconnect();
  } else {
    for (const s of stores) s.connect();
  }
  if (app.board) app.board.members = app.board.store.presence.list();
  renderPresence();
  renderStatus();
  scheduleRender();
}

async function startApp(session) {
  app.session = session;
  app.readOnly = session.role === 'viewer';
  app.manualOffline = localStorage.getItem(OFFLINE_KEY) === '1';
  show('app');
  renderHeading();
  renderStatus();
  await refreshConfig();
  try {
    await openDirectory();
  } catch (err) {
    toast(`Could not open your boards: ${err.message}`, { kind: 'error', ms: 15_000 });
  }
  const wanted = boardFromHash() ?? localStorage.getItem(lastBoardKey(session.user));
  if (wanted) await openBoard(wanted);
  renderAll();
  document.body.dataset.ready = 'true';
}

async function signOut() {
  opening++;
  await closeBoard();
  for (const off of app.dirOffs ?? []) off();
  await app.dir?.close().catch(() => {});
  app.dir = null;
  app.boards = [];
  closePanel();
  localStorage.removeItem(SESSION_KEY);
  localStorage.removeItem(OFFLINE_KEY);
  app.session = null;
  app.manualOffline = false;
  history.replaceState(null, '', location.pathname);
  delete document.body.dataset.ready;
  show('signin');
  $('#signin-name').focus();
}

function setup() {
  $('#signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const role = e.submitter?.value === 'viewer' ? 'viewer' : 'editor';
    const input = $('#signin-name');
    const user = input.value.trim();
    const error = $('#signin-error');
    error.textContent = '';
    if (!USER_RE.test(user)) {
      error.textContent = 'Type a name: 1 to 40 letters, digits, spaces, dots, dashes or underscores.';
      input.focus();
      return;
    }
    if (!navigator.onLine) {
      error.textContent = 'You are offline. Signing in needs the network once; after that, the board works offline.';
      return;
    }
    const buttons = [...e.currentTarget.querySelectorAll('button')];
    for (const b of buttons) b.disabled = true;
    try {
      const s = await requestToken(user, role);
      saveSession(s);
      await startApp(s);
    } catch (err) {
      error.textContent = `Could not sign in: ${err.message}`;
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  });
  $('#sign-out').addEventListener('click', signOut);
  $('#offline-toggle').addEventListener('click', () => setManualOffline(!app.manualOffline));
  $('#boards-toggle').addEventListener('click', () => {
    const open = document.body.classList.toggle('sidebar-open');
    $('#boards-toggle').setAttribute('aria-expanded', String(open));
  });
  $('#new-board-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#new-board-name');
    const name = input.value.trim();
    if (!name || app.readOnly || !app.dir) {
      input.focus();
      return;
    }
    input.value = '';
    document.body.classList.remove('sidebar-open');
    try {
      await createBoard(name);
    } catch (err) {
      toast(`Could not create the board: ${err.message}`, { kind: 'error' });
    }
  });
  $('#rename-board').addEventListener('click', () => {
    const b = app.board;
    const doc = b && app.boards.find((x) => x.id === b.id);
    if (!doc || app.readOnly) return;
    editInPlace($('#board-title'), {
      value: doc.name, label: 'Board name', testid: 'board-title-input',
      onSave: (name) => app.dir.collection('boards').update(doc.id, { name }).catch((err) => toast(`Could not rename: ${err.message}`, { kind: 'error' })),
    });
  });
  for (const ev of ['online', 'offline']) window.addEventListener(ev, () => {
    renderStatus();
    scheduleRender();
  });
  // the other tabs of this app: offline mode and signing out apply to all of them
  window.addEventListener('storage', (e) => {
    if (!app.session) return;
    if (e.key === OFFLINE_KEY && (e.newValue === '1') !== app.manualOffline) setManualOffline(e.newValue === '1', { fromOtherTab: true });
    if (e.key === SESSION_KEY && e.newValue === null) signOut();
  });
  window.addEventListener('hashchange', () => {
    const id = boardFromHash();
    if (id && app.session && app.board?.id !== id) openBoard(id);
  });
  // writes reach IndexedDB a few milliseconds after they are made: flush when the page goes away
  const flush = () => {
    app.dir?.flush().catch(() => {});
    app.board?.store.flush().catch(() => {});
  };
  window.addEventListener('pagehide', flush);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flush();
  });
  setupCardDialog();
  setupPanels();
}

setup();
registerServiceWorker();
const saved = loadSession();
if (saved) {
  startApp(saved).catch((err) => toast(`The app could not start: ${err.message}`, { kind: 'error', ms: 20_000 }));
} else {
  show('signin');
}
