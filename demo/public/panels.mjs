// The side panels: the conflict inbox (store.conflicts) and the board's history (store.snapshots).
import { app, columnTitle, whoWrote } from './state.mjs';
import { $, formatTime, h, plural, stampTime, toast } from './ui.mjs';

const PANELS = { conflicts: '#conflicts-panel', history: '#history-panel' };
const BUTTONS = { conflicts: '#conflicts-button', history: '#history-button' };
const FIELD_NAMES = { title: 'Title', notes: 'Notes', assignee: 'Assignee', done: 'Done', column: 'Column', order: 'Position', votes: 'Votes' };
let current = null; // the open panel's name

export function openPanel(name) {
  current = name;
  for (const [n, sel] of Object.entries(PANELS)) {
    $(sel).hidden = n !== name;
    $(BUTTONS[n]).setAttribute('aria-expanded', String(n === name));
  }
  document.body.classList.toggle('panel-open', !!name);
  if (name === 'conflicts') renderConflicts();
  if (name === 'history') renderHistory();
  if (name) $(`${PANELS[name]} h2`).focus?.();
}

export function closePanel() {
  const was = current;
  openPanel(null);
  if (was) $(BUTTONS[was]).focus();
}

export function setupPanels() {
  for (const name of Object.keys(PANELS)) {
    $(BUTTONS[name]).addEventListener('click', () => (current === name ? closePanel() : openPanel(name)));
    $(`${PANELS[name]} .panel-close`).addEventListener('click', closePanel);
    $(`${PANELS[name]} h2`).setAttribute('tabindex', '-1');
  }
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && current && !$('#card-dialog').open && !e.target.closest?.('.inline-edit, .merge-editor')) closePanel();
  });
  $('#snapshot-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const b = app.board;
    if (!b || app.readOnly) return;
    const input = $('#snapshot-label');
    const label = input.value.trim() || `Version of ${formatTime(Date.now())}`;
    try {
      await b.store.snapshots.create(label.slice(0, 120), { author: app.session.user });
      input.value = '';
      renderHistory();
      toast(`Saved “${label}” on this device.`);
    } catch (err) {
      toast(`Could not save the version: ${err.message}`, { kind: 'error' });
    }
  });
}

// -------------------------------------------------------------------------------------- conflicts
const entries = new Map(); // conflict id -> {el, key}: an open merge editor survives live updates

/** Reads the open board's conflict records again and renders the badge and the inbox. */
export function refreshConflicts() {
  const b = app.board;
  const before = b?.conflicts.length ?? 0;
  if (b) b.conflicts = b.store.conflicts.list().filter((k) => k.collection === 'cards');
  renderConflicts();
  return (b?.conflicts.length ?? 0) - before;
}

export function renderConflicts() {
  const list = app.board?.conflicts ?? [];
  const badge = $('#conflicts-count');
  badge.textContent = String(list.length);
  badge.dataset.count = String(list.length);
  badge.classList.toggle('is-zero', list.length === 0);
  $('#conflicts-button').setAttribute('aria-label', `Conflicts: ${list.length}`);
  $('#conflicts-empty').hidden = list.length > 0;
  const ul = $('#conflict-list');
  const keep = new Set();
  const els = list.map((k) => {
    const card = app.board.cards.find((c) => c.id === k.doc);
    const key = JSON.stringify([k, card?.title, app.readOnly, k.field === 'column' ? app.board.columns : null]);
    let e = entries.get(k.id);
    if (!e || (e.key !== key && !e.el.querySelector('.merge-editor:not([hidden])'))) {
      e = { el: conflictEntry(k, card), key };
      entries.set(k.id, e);
    }
    keep.add(k.id);
    return e.el;
  });
  for (const id of entries.keys()) if (!keep.has(id)) entries.delete(id);
  if (els.length !== ul.children.length || els.some((el, i) => ul.children[i] !== el)) ul.replaceChildren(...els);
}

function shown(field, side) {
  if (side.absent) return h('em', { class: 'muted' }, '(empty)');
  const v = side.value;
  if (field === 'column' && typeof v === 'string') return columnTitle(v);
  if (field === 'done' && typeof v === 'boolean') return v ? 'Done' : 'Not done';
  if (typeof v === 'string') return v === '' ? h('em', { class: 'muted' }, '(empty)') : v;
  return JSON.stringify(v);
}

const isText = (side) => side.absent || typeof side.value === 'string';
const isStructured = (side) => !side.absent && side.value !== null && typeof side.value === 'object';

function conflictEntry(k, card) {
  const field = FIELD_NAMES[k.field] ?? k.field;
  const side = (label, s, testid, current) => {
    const t = stampTime(s.stamp);
    return h('div', { class: `conflict-side${current ? ' is-current' : ''}`, testid },
      h('div', { class: 'conflict-side-head' }, h('span', { class: 'conflict-side-label' }, label),
        current ? h('span', { class: 'badge badge-current', title: 'The value everyone sees now' }, 'showing') : null),
      h('div', { class: 'conflict-value', testid: `${testid}-value` }, shown(k.field, s)),
      h('div', { class: 'conflict-who' }, whoWrote(s.stamp), Number.isFinite(t) ? ` · ${formatTime(t)}` : ''));
  };
  const children = [
    h('div', { class: 'conflict-title' },
      h('span', { class: 'conflict-card' }, card ? `“${card.title}”` : 'A deleted card'),
      h('span', { class: 'conflict-field' }, field)),
    h('div', { class: 'conflict-sides' },
      side('Yours', k.local, 'conflict-mine', k.winner === 'local'),
      side('Theirs', k.remote, 'conflict-theirs', k.winner === 'remote')),
  ];
  if (!app.readOnly) {
    const text = k.field !== 'column' && isText(k.local) && isText(k.remote);
    const structured = isStructured(k.local) && isStructured(k.remote);
    const editor = text ? mergeEditor(k) : null;
    children.push(h('div', { class: 'conflict-actions' },
      h('button', { type: 'button', class: 'secondary small', testid: 'conflict-keep-mine', onclick: () => resolve(k, 'keep_local', 'kept yours') }, 'Keep mine'),
      h('button', { type: 'button', class: 'secondary small', testid: 'conflict-keep-theirs', onclick: () => resolve(k, 'keep_remote', 'kept theirs') }, 'Keep theirs'),
      text || structured ? h('button', {
        type: 'button', class: 'secondary small', testid: 'conflict-merge',
        onclick: (e) => {
          if (structured) {
            resolve(k, 'merge', 'merged both');
            return;
          }
          editor.hidden = false;
          e.target.hidden = true;
          editor.querySelector('textarea').focus();
        },
      }, 'Merge…') : null));
    if (editor) children.push(editor);
  }
  return h('li', { class: 'conflict', testid: 'conflict', dataset: { conflictId: k.id, doc: k.doc, field: k.field } }, ...children);
}

function mergeEditor(k) {
  const a = k.local.absent ? '' : k.local.value;
  const b = k.remote.absent ? '' : k.remote.value;
  const sep = k.field === 'notes' || a.includes('\n') || b.includes('\n') ? '\n\n' : ' / ';
  const textarea = h('textarea', {
    class: 'merge-text', testid: 'conflict-merge-text', rows: k.field === 'notes' ? 6 : 3,
    'aria-label': `Merged ${FIELD_NAMES[k.field] ?? k.field}`, value: [a, b].filter(Boolean).join(sep),
  });
  const editor = h('div', { class: 'merge-editor', hidden: true },
    h('label', { class: 'small muted' }, 'Edit the merged value, then save it for everyone:'),
    textarea,
    h('div', { class: 'conflict-actions' },
      h('button', {
        type: 'button', class: 'primary small', testid: 'conflict-merge-save',
        onclick: () => {
          const value = k.field === 'title' ? textarea.value.trim() : textarea.value;
          if (k.field === 'title' && !value) {
            toast('A card needs a title.', { kind: 'error' });
            return;
          }
          resolve(k, { value }, 'merged');
        },
      }, 'Save merged'),
      h('button', {
        type: 'button', class: 'link-button small', testid: 'conflict-merge-cancel',
        onclick: () => {
          editor.hidden = true;
          editor.parentElement.querySelector('[data-testid="conflict-merge"]').hidden = false;
        },
      }, 'Cancel')));
  textarea.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') editor.querySelector('[data-testid="conflict-merge-cancel"]').click();
  });
  return editor;
}

async function resolve(k, mode, what) {
  const b = app.board;
  if (!b || app.readOnly) return;
  try {
    await b.store.conflicts.resolve(k.id, mode);
    entries.delete(k.id);
    refreshConflicts();
    toast(`Conflict resolved (${what}). Everyone gets the result.`);
  } catch (err) {
    toast(`Could not resolve the conflict: ${err.message}`, { kind: 'error' });
  }
}

// ---------------------------------------------------------------------------------------- history
export function renderHistory() {
  const b = app.board;
  $('#snapshot-form').hidden = app.readOnly || !b;
  const list = b ? [...b.store.snapshots.list()].sort((x, y) => y.createdAt - x.createdAt) : [];
  $('#snapshots-empty').hidden = list.length > 0;
  $('#snapshots-empty').textContent = app.readOnly
    ? 'View only: versions cannot be saved or restored.'
    : 'No versions saved on this device yet.';
  $('#snapshot-list').replaceChildren(...list.map((s) => h('li', { class: 'snapshot', testid: 'snapshot', dataset: { snapshotId: s.id, label: s.label } },
    h('div', { class: 'snapshot-text' },
      h('span', { class: 'snapshot-label', testid: 'snapshot-label-text' }, s.label),
      h('span', { class: 'snapshot-meta' }, `${s.author || 'someone'} · ${formatTime(s.createdAt)} · ${plural(s.docCount, 'item')}`)),
    app.readOnly ? null : h('button', {
      type: 'button', class: 'secondary small', testid: 'snapshot-restore', 'aria-label': `Restore “${s.label}”`,
      onclick: () => restore(s),
    }, 'Restore'))));
}

async function restore(s) {
  const b = app.board;
  if (!b || app.readOnly) return;
  const { store } = b;
  try {
    // the current board is kept first, so that the restore can be undone
    const label = `Before restoring “${s.label}”`;
    const before = await store.snapshots.create(label.length > 120 ? `${label.slice(0, 118)}…”` : label, { author: app.session.user });
    await store.snapshots.restore(s.id);
    renderHistory();
    toast(`Restored “${s.label}” for everyone.`, {
      action: {
        label: 'Undo',
        run: () => store.snapshots.restore(before.id).then(renderHistory, (err) => toast(`Could not undo: ${err.message}`, { kind: 'error' })),
      },
    });
  } catch (err) {
    toast(`Could not restore: ${err.message}`, { kind: 'error' });
  }
}
