// The board: columns and cards rendered from the board store's live queries, the card dialog, moves
// (buttons and drag-and-drop) and the marks presence puts on cards. Column and card elements are kept
// by id and rebuilt only when what they show changed, so focus and half-typed text survive live updates.
import { openPanel } from './panels.mjs';
import { announce, app, cardsOf, columnsOf } from './state.mjs';
import { $, avatar, editInPlace, h, plural, rid, toast } from './ui.mjs';

const columnEls = new Map(); // column id -> {el, title, count, list, rename}
const cardEls = new Map(); // card id -> {el, key}
let domIds = 0;
let dragging = null; // id of the card being dragged
let dialog = null; // the card dialog's state: {id, base, dirty}

const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
const byOrder = (a, b) => num(a.order) - num(b.order) || num(a.createdAt) - num(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Reports a failed write (a closed store, a refused value) instead of losing it silently. */
function attempt(promise, what) {
  return Promise.resolve(promise).catch((err) => toast(`Could not ${what}: ${err.message}`, { kind: 'error' }));
}

export function resetBoardView() {
  columnEls.clear();
  cardEls.clear();
  $('#columns').replaceChildren();
  if ($('#card-dialog').open) $('#card-dialog').close();
}

/** Who (other than this user) edits which card: card id -> [user names]. */
function editorsByCard() {
  const out = new Map();
  for (const m of app.board?.members ?? []) {
    const card = m.state?.card;
    const user = m.state?.user;
    if (typeof card !== 'string' || typeof user !== 'string' || user === app.session?.user) continue;
    const list = out.get(card) ?? [];
    if (!list.includes(user)) list.push(user);
    out.set(card, list);
  }
  return out;
}

export function renderBoard() {
  const b = app.board;
  const root = $('#columns');
  const message = $('#board-message');
  if (!b) {
    resetBoardView();
    message.hidden = false;
    message.textContent = app.boards.length
      ? 'Pick a board on the left.'
      : app.readOnly ? 'No boards yet. Boards your team creates will show up here.' : 'Create your first board on the left.';
    return;
  }
  const columns = [...b.columns].sort(byOrder);
  message.hidden = columns.length > 0;
  if (!columns.length) {
    message.textContent = app.manualOffline || !navigator.onLine
      ? 'This board has not reached this device yet. Go online to fetch it.'
      : 'Fetching this board…';
  }
  const cardsByColumn = new Map(columns.map((c) => [c.id, []]));
  for (const card of b.cards) (cardsByColumn.get(card.column) ?? cardsByColumn.get(columns[0]?.id))?.push(card);
  const ctx = { columns, editors: editorsByCard(), conflicted: new Set(b.conflicts.map((k) => k.doc)) };

  const keep = new Set();
  columns.forEach((col, i) => {
    let ce = columnEls.get(col.id);
    if (!ce) columnEls.set(col.id, (ce = createColumn(col)));
    keep.add(ce.el);
    if (ce.title.isConnected && ce.title.textContent !== col.title) ce.title.textContent = col.title;
    ce.rename?.setAttribute('aria-label', `Rename column ${col.title}`);
    const cards = cardsByColumn.get(col.id).sort(byOrder);
    ce.count.textContent = String(cards.length);
    ce.count.setAttribute('aria-label', plural(cards.length, 'card'));
    if (root.children[i] !== ce.el) root.insertBefore(ce.el, root.children[i] ?? null);
    renderCards(ce.list, cards, i, ctx);
  });
  for (const [id, ce] of columnEls) {
    if (!keep.has(ce.el)) {
      ce.el.remove();
      columnEls.delete(id);
    }
  }
  const live = new Set(b.cards.map((c) => c.id));
  for (const id of cardEls.keys()) if (!live.has(id)) cardEls.delete(id);
  if (!app.readOnly && columns.length) {
    let adder = $('#add-column');
    if (!adder) adder = createColumnAdder();
    if (root.lastElementChild !== adder) root.append(adder);
  } else {
    $('#add-column')?.remove();
  }
  refreshCardDialog();
}

// ----------------------------------------------------------------------------------------- columns
function createColumn(col) {
  const titleId = `col-title-${++domIds}`;
  const title = h('h2', { class: 'column-title', id: titleId, testid: 'column-title', tabindex: '-1' }, col.title);
  const count = h('span', { class: 'column-count', testid: 'column-count' }, '0');
  const rename = app.readOnly ? null : h('button', {
    type: 'button', class: 'icon-button column-rename', testid: 'rename-column', title: 'Rename column',
    onclick: () => editInPlace(title, {
      value: title.textContent, label: 'Column name', testid: 'column-title-input',
      onSave: (v) => attempt(columnsOf()?.update(col.id, { title: v }), 'rename the column'),
    }),
  }, '✎');
  const list = h('div', { class: 'card-list', testid: 'card-list', role: 'list', 'aria-labelledby': titleId });
  const children = [h('header', { class: 'column-header' }, title, count, rename), list];
  if (!app.readOnly) {
    const input = h('input', {
      testid: 'add-card-input', placeholder: 'Add a card…', maxlength: 200, autocomplete: 'off',
      'aria-label': `New card in ${col.title}`,
    });
    children.push(h('form', {
      class: 'add-card', testid: 'add-card-form',
      onsubmit: (e) => {
        e.preventDefault();
        addCard(col.id, input);
      },
    }, input, h('button', { type: 'submit', class: 'secondary small', testid: 'add-card-submit' }, 'Add')));
    dropTarget(list, col.id);
  }
  const el = h('section', { class: 'column', testid: 'column', dataset: { columnId: col.id }, 'aria-labelledby': titleId }, ...children);
  return { el, title, count, list, rename };
}

function createColumnAdder() {
  const input = h('input', { testid: 'add-column-input', placeholder: 'New column', maxlength: 80, autocomplete: 'off', 'aria-label': 'New column name' });
  return h('section', { class: 'column column-adder', id: 'add-column', 'aria-label': 'Add a column' },
    h('form', {
      class: 'add-column', testid: 'add-column-form',
      onsubmit: (e) => {
        e.preventDefault();
        const title = input.value.trim();
        if (!title) return;
        const order = Math.max(0, ...app.board.columns.map((c) => num(c.order))) + 1;
        input.value = '';
        attempt(columnsOf()?.put({ id: rid(), title, order }), 'add the column');
      },
    }, input, h('button', { type: 'submit', class: 'secondary small', testid: 'add-column-submit' }, 'Add column')));
}

// ------------------------------------------------------------------------------------------- cards
function renderCards(list, cards, columnIndex, ctx) {
  const prev = ctx.columns[columnIndex - 1];
  const next = ctx.columns[columnIndex + 1];
  const wanted = [];
  for (const card of cards) {
    const editors = ctx.editors.get(card.id) ?? [];
    const conflicted = ctx.conflicted.has(card.id);
    const key = JSON.stringify([card, editors, conflicted, prev?.id, prev?.title, next?.id, next?.title, app.readOnly]);
    let entry = cardEls.get(card.id);
    if (!entry || entry.key !== key) {
      const el = createCard(card, { editors, conflicted, prev, next });
      if (entry?.el.isConnected) {
        // keep keyboard focus on the same control of the rebuilt card
        const focused = entry.el.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
        entry.el.replaceWith(el);
        if (focused) el.querySelector(`[data-testid="${focused}"]`)?.focus();
      }
      entry = { el, key };
      cardEls.set(card.id, entry);
    }
    wanted.push(entry.el);
  }
  const wantedSet = new Set(wanted);
  for (const node of [...list.children]) if (node.dataset.cardId && !wantedSet.has(node)) node.remove();
  let cursor = list.firstElementChild;
  for (const el of wanted) {
    while (cursor && !cursor.dataset.cardId) cursor = cursor.nextElementSibling; // (the drop marker)
    if (cursor === el) cursor = el.nextElementSibling;
    else {
      const focused = el.contains(document.activeElement) ? document.activeElement : null;
      list.insertBefore(el, cursor);
      focused?.focus();
    }
  }
}

function createCard(card, { editors, conflicted, prev, next }) {
  const ro = app.readOnly;
  const title = typeof card.title === 'string' && card.title ? card.title : 'Untitled';
  const votes = num(card.votes);
  const parts = [];
  if (editors.length) {
    parts.push(h('div', { class: 'card-editing', testid: 'card-editing', dataset: { users: editors.join(',') } },
      editors.map((u) => avatar(u, { small: true })), `${editors.join(', ')} ${editors.length > 1 ? 'are' : 'is'} editing`));
  }
  parts.push(h('h3', { class: 'card-heading' }, ro
    ? h('span', { class: 'card-title', testid: 'card-title' }, title)
    : h('button', { type: 'button', class: 'card-title', testid: 'card-title', title: 'Edit card', onclick: () => openCardDialog(card.id) }, title)));
  if (typeof card.notes === 'string' && card.notes.trim()) {
    const notes = card.notes.trim();
    parts.push(h('p', { class: 'card-notes', testid: 'card-notes' }, notes.length > 140 ? `${notes.slice(0, 140)}…` : notes));
  }
  const meta = [];
  if (typeof card.assignee === 'string' && card.assignee) {
    meta.push(h('span', { class: 'card-assignee', testid: 'card-assignee' }, avatar(card.assignee, { small: true }), card.assignee));
  }
  if (conflicted) {
    meta.push(h('button', {
      type: 'button', class: 'card-conflict', testid: 'card-conflict', title: 'This card has a conflict to review',
      onclick: () => openPanel('conflicts'),
    }, '⚑ Conflict'));
  }
  if (meta.length) parts.push(h('div', { class: 'card-meta' }, meta));

  const actions = [];
  if (ro) {
    if (card.done === true) actions.push(h('span', { class: 'card-done-static', testid: 'card-done-static' }, '✓ Done'));
    actions.push(h('span', { class: 'card-votes-static', title: plural(votes, 'vote') }, '▲ ', h('span', { testid: 'card-votes' }, String(votes))));
  } else {
    actions.push(h('label', { class: 'card-done', title: 'Mark as done' },
      h('input', {
        type: 'checkbox', testid: 'card-done', checked: card.done === true, 'aria-label': `Done: ${title}`,
        onchange: (e) => attempt(cardsOf()?.update(card.id, { done: e.target.checked }), 'update the card'),
      }), 'Done'));
    actions.push(h('button', {
      type: 'button', class: 'vote-button', testid: 'card-vote', 'aria-label': `Vote for ${title} (${plural(votes, 'vote')})`,
      onclick: () => attempt(cardsOf()?.increment(card.id, 'votes', 1), 'vote'),
    }, '▲ ', h('span', { testid: 'card-votes' }, String(votes))));
    actions.push(h('span', { class: 'spacer' }));
    if (prev) {
      actions.push(h('button', {
        type: 'button', class: 'icon-button move-button', testid: 'card-move-left', 'aria-label': `Move to ${prev.title}`, title: `Move to ${prev.title}`,
        onclick: () => moveCard(card.id, prev.id, null),
      }, '←'));
    }
    if (next) {
      actions.push(h('button', {
        type: 'button', class: 'icon-button move-button', testid: 'card-move-right', 'aria-label': `Move to ${next.title}`, title: `Move to ${next.title}`,
        onclick: () => moveCard(card.id, next.id, null),
      }, '→'));
    }
  }
  parts.push(h('div', { class: 'card-actions' }, actions));

  const el = h('article', {
    class: `card${card.done === true ? ' is-done' : ''}${editors.length ? ' is-edited' : ''}${conflicted ? ' has-conflict' : ''}`,
    testid: 'card', role: 'listitem', dataset: { cardId: card.id }, draggable: ro ? null : 'true', 'aria-label': title,
  }, ...parts);
  if (!ro) {
    el.addEventListener('dragstart', (e) => {
      dragging = card.id;
      e.dataTransfer.setData('text/plain', title);
      e.dataTransfer.effectAllowed = 'move';
      requestAnimationFrame(() => el.classList.add('is-dragging'));
    });
    el.addEventListener('dragend', () => {
      dragging = null;
      el.classList.remove('is-dragging');
      for (const m of document.querySelectorAll('.drop-marker')) m.remove();
    });
  }
  return el;
}

async function addCard(columnId, input) {
  const title = input.value.trim();
  if (!title) return;
  const inColumn = app.board.cards.filter((c) => c.column === columnId);
  const order = Math.max(0, ...inColumn.map((c) => num(c.order))) + 1;
  input.value = '';
  await attempt(cardsOf()?.put({
    id: rid(), column: columnId, title, notes: '', assignee: '', done: false, votes: 0, order, createdAt: Date.now(),
  }), 'add the card');
  input.focus();
}

/** Moves a card to a column, before the card `beforeId` (null: at the end). Writes only what changed. */
export function moveCard(id, column, beforeId) {
  const card = app.board?.cards.find((c) => c.id === id);
  if (!card) return Promise.resolve();
  const list = app.board.cards.filter((c) => c.column === column && c.id !== id).sort(byOrder);
  const i = beforeId ? list.findIndex((c) => c.id === beforeId) : -1;
  let order;
  if (i < 0) order = list.length ? num(list.at(-1).order) + 1 : 1;
  else if (i === 0) order = num(list[0].order) - 1;
  else order = (num(list[i - 1].order) + num(list[i].order)) / 2;
  const fields = {};
  if (card.column !== column) fields.column = column;
  if (card.order !== order) fields.order = order;
  if (!Object.keys(fields).length) return Promise.resolve();
  return attempt(cardsOf()?.update(id, fields), 'move the card');
}

/** A card list accepts dropped cards: a marker shows where the card lands. */
function dropTarget(list, columnId) {
  const marker = () => list.querySelector('.drop-marker') ?? h('div', { class: 'drop-marker', 'aria-hidden': 'true' });
  list.addEventListener('dragover', (e) => {
    if (!dragging) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    const m = marker();
    const cards = [...list.querySelectorAll('.card:not(.is-dragging)')];
    const before = cards.find((c) => {
      const r = c.getBoundingClientRect();
      return e.clientY < r.top + r.height / 2;
    });
    if (before) {
      if (m.nextElementSibling !== before) list.insertBefore(m, before);
    } else if (list.lastElementChild !== m) list.append(m);
    list.classList.add('is-drop-target');
  });
  list.addEventListener('dragleave', (e) => {
    if (list.contains(e.relatedTarget)) return;
    list.classList.remove('is-drop-target');
    list.querySelector('.drop-marker')?.remove();
  });
  list.addEventListener('drop', (e) => {
    if (!dragging) return;
    e.preventDefault();
    const m = list.querySelector('.drop-marker');
    let after = m?.nextElementSibling;
    while (after && after.dataset.cardId === dragging) after = after.nextElementSibling;
    m?.remove();
    list.classList.remove('is-drop-target');
    const id = dragging;
    dragging = null;
    moveCard(id, columnId, after?.dataset.cardId ?? null);
  });
}

// ------------------------------------------------------------------------------------- card dialog
const FIELDS = ['title', 'notes', 'assignee', 'column', 'done'];

function fieldValue(doc, f) {
  if (f === 'done') return doc.done === true;
  return typeof doc[f] === 'string' ? doc[f] : '';
}

function inputOf(f) {
  return $('#card-form').elements[f];
}

function readInput(f) {
  const el = inputOf(f);
  return f === 'done' ? el.checked : f === 'title' ? el.value.trim() : el.value;
}

function writeInput(f, v) {
  const el = inputOf(f);
  if (f === 'done') el.checked = v;
  else el.value = v;
}

export function openCardDialog(id) {
  if (app.readOnly) return;
  const doc = cardsOf()?.get(id);
  if (!doc) return;
  const d = $('#card-dialog');
  const select = inputOf('column');
  select.replaceChildren(...[...app.board.columns].sort(byOrder).map((c) => h('option', { value: c.id }, c.title)));
  const users = new Set([app.session.user, ...Object.values(app.siteUsers), ...app.board.cards.map((c) => c.assignee).filter(Boolean)]);
  $('#known-users').replaceChildren(...[...users].sort().map((u) => h('option', { value: u })));
  dialog = { id, base: {}, dirty: new Set(), gone: false };
  for (const f of FIELDS) {
    dialog.base[f] = fieldValue(doc, f);
    writeInput(f, dialog.base[f]);
  }
  $('#card-dialog-note').hidden = true;
  $('[data-testid="card-dialog-save"]').disabled = false;
  d.showModal();
  inputOf('title').focus();
  announce({ card: id });
}

/** The card changed while its dialog is open: untouched fields follow; a deleted card cannot be saved. */
function refreshCardDialog() {
  if (!dialog || !$('#card-dialog').open) return;
  const doc = app.board?.cards.find((c) => c.id === dialog.id);
  const note = $('#card-dialog-note');
  if (!doc) {
    dialog.gone = true;
    note.hidden = false;
    note.textContent = 'Someone deleted this card while you were editing it.';
    $('[data-testid="card-dialog-save"]').disabled = true;
    return;
  }
  let theirs = false;
  for (const f of FIELDS) {
    const v = fieldValue(doc, f);
    if (v === dialog.base[f]) continue;
    if (dialog.dirty.has(f) && readInput(f) !== v) theirs = true;
    else writeInput(f, v);
    dialog.base[f] = v;
  }
  if (theirs) {
    note.hidden = false;
    note.textContent = 'Someone else changed this card meanwhile. Saving keeps the fields you changed.';
  }
}

export function setupCardDialog() {
  const d = $('#card-dialog');
  const form = $('#card-form');
  form.addEventListener('input', (e) => {
    if (dialog && e.target.name) dialog.dirty.add(e.target.name);
  });
  for (const b of d.querySelectorAll('[data-close]')) b.addEventListener('click', () => d.close());
  d.addEventListener('close', () => {
    dialog = null;
    announce({ card: null });
  });
  // a click on the backdrop closes the dialog
  d.addEventListener('click', (e) => {
    if (e.target === d) d.close();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!dialog || dialog.gone) return;
    const { id } = dialog;
    const doc = cardsOf()?.get(id);
    if (!doc) return;
    const fields = {};
    for (const f of FIELDS) {
      const v = readInput(f);
      if (f === 'title' && !v) {
        inputOf('title').focus();
        toast('A card needs a title.', { kind: 'error' });
        return;
      }
      if (v !== fieldValue(doc, f)) fields[f] = v;
    }
    if (fields.column) {
      const inColumn = app.board.cards.filter((c) => c.column === fields.column);
      fields.order = Math.max(0, ...inColumn.map((c) => num(c.order))) + 1;
    }
    d.close();
    if (Object.keys(fields).length) await attempt(cardsOf()?.update(id, fields), 'save the card');
  });
  $('#card-delete').addEventListener('click', async () => {
    if (!dialog) return;
    const cards = cardsOf();
    const doc = cards?.get(dialog.id);
    d.close();
    if (!doc) return;
    await attempt(cards.delete(doc.id), 'delete the card');
    toast(`Deleted “${doc.title}”.`, { action: { label: 'Undo', run: () => attempt(cardsOf()?.put(doc), 'bring the card back') } });
  });
}
