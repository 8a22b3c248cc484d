// Small DOM helpers shared by the demo's modules: element creation, toasts, colors and time formats.
// No framework: the app renders with these and keeps stable elements where focus matters.

const PROPS = new Set(['value', 'checked', 'textContent', 'indeterminate']);

/** h('button', {class, testid, onclick, ...}, ...children): an element. false/null/undefined props are skipped. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'testid') el.dataset.testid = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** A short random id (base 36), for boards, columns and cards. */
export function rid(n = 10) {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return [...b].map((x) => (x % 36).toString(36)).join('');
}

/** A stable color per user name, from a calm palette. */
const PALETTE = ['#3b6fd8', '#2f855a', '#b7791f', '#c05621', '#805ad5', '#2c7a7b', '#b83280', '#4a5568', '#2b6cb0', '#9c4221'];
export function colorFor(name) {
  let x = 0;
  for (const ch of String(name)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[x % PALETTE.length];
}

export function initials(name) {
  const parts = String(name).trim().split(/[\s._-]+/).filter(Boolean);
  const first = (w) => [...w][0] ?? '';
  return (parts.length > 1 ? first(parts[0]) + first(parts[1]) : first(parts[0] ?? '?')).toUpperCase();
}

/** An avatar: a colored circle with initials, the full name as its accessible label. */
export function avatar(name, { testid, title, small } = {}) {
  return h('span', {
    class: `avatar${small ? ' avatar-small' : ''}`, testid, dataset: { user: name }, title: title ?? name,
    role: 'img', 'aria-label': title ?? name, style: { background: colorFor(name) },
  }, initials(name));
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** A time of today as 14:03:05; an older one with its date. */
export function formatTime(ms) {
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  return d.toDateString() === new Date().toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

/** Milliseconds of a conflict stamp's hybrid logical clock (48 bits of ms, 16 of counter). */
export function stampTime(stamp) {
  const ms = Math.floor(Number(stamp?.hlc) / 65536);
  return ms > 1e12 ? ms : NaN;
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

// ------------------------------------------------------------------------------------------ toasts
const recent = new Map(); // message -> time shown (the same message twice in 4 s is shown once)

/** Shows a message for a few seconds; action: {label, run} adds a button (Undo, Review...). */
export function toast(message, { kind = 'info', action, ms = 5000 } = {}) {
  const now = Date.now();
  if (recent.get(message) > now - 4000) return;
  recent.set(message, now);
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', { class: `toast toast-${kind}`, testid: 'toast', role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'toast-text' }, message));
  const close = () => {
    el.classList.add('toast-out');
    setTimeout(() => el.remove(), 200);
  };
  if (action) {
    el.append(h('button', {
      type: 'button', class: 'link-button', testid: 'toast-action',
      onclick: () => {
        close();
        action.run();
      },
    }, action.label));
  }
  el.append(h('button', { type: 'button', class: 'icon-button toast-close', 'aria-label': 'Dismiss', onclick: close }, '×'));
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(close, ms);
}

/** Makes a heading-like element editable in place: Enter or blur saves, Escape cancels. */
export function editInPlace(target, { value, label, testid, onSave, multiline = false }) {
  const input = h(multiline ? 'textarea' : 'input', { class: 'inline-edit', value, 'aria-label': label, testid, maxlength: 200 });
  let done = false;
  const finish = (save) => {
    if (done) return;
    done = true;
    const v = input.value.trim();
    input.replaceWith(target);
    if (save && v && v !== value) onSave(v);
    target.focus?.();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      finish(true);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      finish(false);
    }
  });
  input.addEventListener('blur', () => finish(true));
  target.replaceWith(input);
  input.focus();
  input.select();
  return input;
}
