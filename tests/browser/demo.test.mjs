// The demo app (demo/public/) driven through its UI in headless Chromium: the real demo server
// (startDemo: the relay with HS256 auth, the static files, the dev sign-in) on free ports, and a
// Chromium profile per user (Debian's chromium via playwright-core; harness.mjs). Two editors see each
// other live; one goes offline, both edit one card's title, the offline one reloads (the page comes
// from the service worker) and keeps its edit, comes back, both converge and the conflict is resolved
// in the inbox; a viewer cannot edit; a restored version reaches both. Every wait is bounded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDemo } from '../../demo/server.mjs';
import { launch } from './harness.mjs';

const WAIT = 15_000; // one UI state to show up (generous: two cores, other tests may run alongside)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let demo;
let dataDir;
const users = {}; // name -> {browser, page}
const facts = {}; // what the run observed, printed at the end

/** Retries fn until it stops throwing (assertions inside), for at most `timeout` ms; rethrows the last error. */
async function eventually(fn, timeout = WAIT) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
    }
    await sleep(100);
  }
}

// Console errors a page logs for connections refused while (emulated) offline: expected.
const OFFLINE_NOISE = /ERR_INTERNET_DISCONNECTED|WebSocket connection to .* failed|net::ERR_/;

async function newPage(browser) {
  const page = await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
  });
  return page;
}

async function signIn(name, role = 'editor') {
  const browser = await launch();
  const page = await newPage(browser);
  users[name] = { browser, page };
  await page.goto(demo.url, { timeout: 30_000 });
  await page.getByTestId('signin-name').fill(name, { timeout: WAIT });
  await page.getByTestId(role === 'viewer' ? 'signin-viewer' : 'signin-editor').click();
  await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
  return page;
}

const card = (page, id) => page.locator(`[data-testid="card"][data-card-id="${id}"]`);
const cardTitle = (page, id) => card(page, id).getByTestId('card-title').textContent({ timeout: 2_000 });
const cardTitles = async (page) => (await page.getByTestId('card-title').allTextContents()).sort();
const countOf = async (page, testid) => Number(await page.getByTestId(testid).getAttribute('data-count', { timeout: 2_000 }));
const attr = (page, testid, name) => page.getByTestId(testid).getAttribute(name, { timeout: 2_000 });

async function openBoardFromList(page, name) {
  await page.locator('[data-testid="board-item"]', { hasText: name }).click({ timeout: WAIT });
  await page.locator('[data-testid="column"]').nth(2).waitFor({ timeout: WAIT });
}

async function addCard(page, column, title) {
  const input = page.locator(`[data-testid="column"][data-column-id="${column}"]`).getByTestId('add-card-input');
  await input.fill(title);
  await input.press('Enter');
  const c = page.locator('[data-testid="card"]', { has: page.getByTestId('card-title').getByText(title, { exact: true }) });
  await c.waitFor({ timeout: WAIT });
  return c.getAttribute('data-card-id');
}

/** Opens the card dialog, sets the title, saves. */
async function editTitle(page, id, title) {
  await card(page, id).getByTestId('card-title').click();
  const dialog = page.getByTestId('card-dialog');
  await dialog.waitFor({ state: 'visible', timeout: WAIT });
  await dialog.getByTestId('card-dialog-title').fill(title);
  await dialog.getByTestId('card-dialog-save').click();
  await dialog.waitFor({ state: 'hidden', timeout: WAIT });
}

async function synced(page) {
  assert.equal(await attr(page, 'status-synced', 'data-state'), 'yes', 'synced');
  assert.equal(await countOf(page, 'status-pending'), 0, 'nothing pending');
}

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncore-demo-test-'));
  demo = await startDemo({ port: 0, relayPort: 0, data: dataDir, log: () => {} });
});

after(async () => {
  await users.bob?.browser.context.setOffline(false).catch(() => {});
  await Promise.all(Object.values(users).map((u) => u.browser.stop()));
  await demo?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  console.log(`# demo facts: ${JSON.stringify(facts)}`);
});

let cardId; // the card both users edit

test('two users on one board: cards and votes arrive live, presence shows the other', { timeout: 90_000 }, async () => {
  const [ada, bob] = await Promise.all([signIn('ada'), signIn('bob')]);
  await ada.getByTestId('new-board-name').fill('Sprint 1');
  await ada.getByTestId('new-board-submit').click();
  await ada.locator('[data-testid="column"]').nth(2).waitFor({ timeout: WAIT });
  assert.deepEqual(await ada.getByTestId('column-title').allTextContents(), ['To do', 'Doing', 'Done'], 'a new board starts with three columns');
  assert.equal(await ada.getByTestId('board-title').textContent(), 'Sprint 1');

  await openBoardFromList(bob, 'Sprint 1');
  assert.deepEqual(await bob.getByTestId('column-title').allTextContents(), ['To do', 'Doing', 'Done']);

  const t0 = Date.now();
  cardId = await addCard(ada, 'todo', 'Write the spec');
  await eventually(async () => assert.equal(await cardTitle(bob, cardId), 'Write the spec'));
  facts.cardLiveMs = Date.now() - t0;
  assert.equal(await card(bob, cardId).locator('xpath=ancestor::*[@data-testid="column"]').getAttribute('data-column-id'), 'todo');

  await card(bob, cardId).getByTestId('card-vote').click();
  await eventually(async () => assert.equal(await card(ada, cardId).getByTestId('card-votes').textContent(), '1'));
  await card(ada, cardId).getByTestId('card-vote').click();
  await eventually(async () => assert.equal(await card(bob, cardId).getByTestId('card-votes').textContent(), '2'), WAIT);

  await ada.locator('[data-testid="presence-avatar"][data-user="bob"]').waitFor({ timeout: WAIT });
  await bob.locator('[data-testid="presence-avatar"][data-user="ada"]').waitFor({ timeout: WAIT });

  // ada opens the card: bob sees who edits it; she closes it: the mark goes
  await card(ada, cardId).getByTestId('card-title').click();
  await card(bob, cardId).locator('[data-testid="card-editing"][data-users="ada"]').waitFor({ timeout: WAIT });
  await ada.getByTestId('card-dialog-cancel').click();
  await card(bob, cardId).getByTestId('card-editing').waitFor({ state: 'detached', timeout: WAIT });

  // a move made by bob with the buttons reaches ada
  await card(bob, cardId).getByTestId('card-move-right').click();
  await eventually(async () => assert.equal(
    await card(ada, cardId).locator('xpath=ancestor::*[@data-testid="column"]').getAttribute('data-column-id'), 'doing'));
  await eventually(async () => {
    await synced(ada);
    await synced(bob);
  });
});

test('offline: both edit one title, bob reloads offline and keeps his edit, both converge, the conflict is merged in the inbox', { timeout: 120_000 }, async () => {
  const { page: ada } = users.ada;
  const { page: bob } = users.bob;
  await bob.waitForSelector('body[data-offline-ready]', { timeout: WAIT }); // the service worker holds the app shell

  await bob.getByTestId('offline-toggle').click();
  await users.bob.browser.context.setOffline(true);
  assert.equal((await bob.getByTestId('offline-toggle').textContent()).trim(), 'Go online');
  assert.equal(await attr(bob, 'offline-toggle', 'aria-pressed'), 'true');
  await eventually(async () => assert.equal(await attr(bob, 'status-connection', 'data-state'), 'offline'));
  await bob.locator('[data-testid="presence-avatar"][data-user="ada"]').waitFor({ state: 'detached', timeout: WAIT });

  await editTitle(bob, cardId, 'Spec, as bob wrote it offline');
  await sleep(50); // ada writes strictly later: last writer wins for her, bob's value loses
  await editTitle(ada, cardId, 'Spec, as ada wrote it');
  await eventually(() => synced(ada));
  await sleep(300);
  assert.equal(await cardTitle(bob, cardId), 'Spec, as bob wrote it offline', "ada's edit has not reached bob");
  assert.equal(await cardTitle(ada, cardId), 'Spec, as ada wrote it', "bob's edit has not reached ada");
  const pendingBefore = await countOf(bob, 'status-pending');
  assert.ok(pendingBefore > 0, `bob has pending changes (${pendingBefore})`);
  await eventually(async () => assert.equal(await attr(bob, 'status-persisted', 'data-state'), 'yes'));

  // reload while offline: the service worker serves the app, the store opens from IndexedDB
  const res = await bob.reload({ timeout: 30_000 });
  facts.reloadFromServiceWorker = res?.fromServiceWorker() ?? null;
  assert.equal(facts.reloadFromServiceWorker, true, 'the offline reload was answered by the service worker');
  await bob.waitForSelector('body[data-ready]', { timeout: 30_000 });
  assert.equal(await bob.evaluate(() => navigator.onLine), false, 'still offline');
  await eventually(async () => assert.equal(await cardTitle(bob, cardId), 'Spec, as bob wrote it offline'), WAIT);
  const pendingAfter = await countOf(bob, 'status-pending');
  facts.pending = { before: pendingBefore, afterReload: pendingAfter };
  assert.ok(pendingAfter > 0, `after the reload bob's edit is still pending (${pendingAfter})`);
  assert.equal((await bob.getByTestId('offline-toggle').textContent()).trim(), 'Go online', 'offline mode is remembered across the reload');
  assert.equal(await attr(bob, 'status-connection', 'data-state'), 'offline');

  // back online
  const t0 = Date.now();
  await users.bob.browser.context.setOffline(false);
  await bob.getByTestId('offline-toggle').click();
  assert.equal((await bob.getByTestId('offline-toggle').textContent()).trim(), 'Go offline');
  await eventually(async () => {
    const [ta, tb] = [await cardTitle(ada, cardId), await cardTitle(bob, cardId)];
    assert.equal(ta, tb, 'same title on both');
    assert.equal(ta, 'Spec, as ada wrote it', 'the last writer (ada) wins');
    await synced(ada);
    await synced(bob);
  }, 20_000);
  facts.convergeMs = Date.now() - t0;
  await bob.locator('[data-testid="presence-avatar"][data-user="ada"]').waitFor({ timeout: WAIT });

  // bob's value lost: his inbox holds the conflict (ada's may too, until bob resolves)
  await eventually(async () => assert.equal(await countOf(bob, 'conflicts-count'), 1));
  facts.conflictsBeforeResolve = { ada: await countOf(ada, 'conflicts-count'), bob: 1 };
  await card(bob, cardId).getByTestId('card-conflict').waitFor({ timeout: WAIT });
  await bob.getByTestId('conflicts-button').click();
  const entry = bob.locator(`[data-testid="conflict"][data-doc="${cardId}"][data-field="title"]`);
  await entry.waitFor({ timeout: WAIT });
  assert.equal(await entry.getByTestId('conflict-mine-value').textContent(), 'Spec, as bob wrote it offline');
  assert.equal(await entry.getByTestId('conflict-theirs-value').textContent(), 'Spec, as ada wrote it');
  assert.match(await entry.getByTestId('conflict-theirs').textContent(), /ada/, 'who wrote the other value');

  await entry.getByTestId('conflict-merge').click();
  const text = entry.getByTestId('conflict-merge-text');
  const prefilled = await text.inputValue();
  assert.ok(prefilled.includes('Spec, as bob wrote it offline') && prefilled.includes('Spec, as ada wrote it'), `merge text holds both: ${prefilled}`);
  await text.fill('Spec, merged by bob');
  await entry.getByTestId('conflict-merge-save').click();

  await eventually(async () => {
    assert.equal(await cardTitle(bob, cardId), 'Spec, merged by bob');
    assert.equal(await cardTitle(ada, cardId), 'Spec, merged by bob', 'the resolution reached ada');
    assert.equal(await countOf(bob, 'conflicts-count'), 0);
    assert.equal(await countOf(ada, 'conflicts-count'), 0, "ada's inbox is empty too");
    await synced(ada);
    await synced(bob);
  }, 20_000);
  await bob.getByTestId('conflicts-empty').waitFor({ timeout: WAIT });
  await ada.getByTestId('conflicts-button').click();
  await ada.getByTestId('conflicts-empty').waitFor({ timeout: WAIT });
  assert.equal(await ada.getByTestId('conflict').count(), 0);
  await ada.getByTestId('conflicts-close').click();
  await bob.getByTestId('conflicts-close').click();
});

test('a viewer sees the board read-only and cannot edit it through the UI', { timeout: 90_000 }, async () => {
  const cy = await signIn('cy', 'viewer');
  await cy.getByTestId('view-only-badge').waitFor({ state: 'visible', timeout: WAIT });
  assert.equal(await cy.getByTestId('new-board-form').isVisible(), false, 'no new board');
  await openBoardFromList(cy, 'Sprint 1');
  await eventually(async () => assert.equal(await cardTitle(cy, cardId), 'Spec, merged by bob'));
  assert.equal(await card(cy, cardId).getByTestId('card-votes').textContent(), '2');
  await users.ada.page.locator('[data-testid="presence-avatar"][data-user="cy"]').waitFor({ timeout: WAIT });

  for (const testid of ['add-card-input', 'add-card-submit', 'card-vote', 'card-move-left', 'card-move-right', 'card-done',
    'rename-column', 'add-column-input', 'conflict-keep-mine', 'snapshot-restore']) {
    assert.equal(await cy.getByTestId(testid).count(), 0, `no ${testid} for a viewer`);
  }
  assert.equal(await cy.getByTestId('rename-board').isVisible(), false, 'no rename');
  // the card's title is plain text: clicking it opens no editor
  await card(cy, cardId).getByTestId('card-title').click();
  await sleep(300);
  assert.equal(await cy.getByTestId('card-dialog').isVisible(), false, 'no card dialog');
  assert.equal(await cy.evaluate(() => document.querySelector('[data-testid="card"]').getAttribute('draggable')), null, 'cards cannot be dragged');
  await cy.getByTestId('history-button').click();
  assert.equal(await cy.getByTestId('snapshot-form').isVisible(), false, 'no saving versions');
  await eventually(async () => assert.equal(await attr(cy, 'status-synced', 'data-state'), 'yes'));
  assert.equal(await countOf(cy, 'status-pending'), 0, 'a viewer writes nothing');
  assert.deepEqual(cy.errors.filter((e) => !OFFLINE_NOISE.test(e)), []);
  await users.cy.browser.stop();
  delete users.cy;
});

test('history: ada saves a version, changes the board, restores it, and both see the restored cards', { timeout: 90_000 }, async () => {
  const { page: ada } = users.ada;
  const { page: bob } = users.bob;
  const second = await addCard(ada, 'todo', 'Second card');
  await eventually(async () => assert.equal(await cardTitle(bob, second), 'Second card'));
  const saved = ['Second card', 'Spec, merged by bob'];
  assert.deepEqual(await cardTitles(ada), saved);

  await ada.getByTestId('history-button').click();
  await ada.getByTestId('snapshot-label').fill('Before cleanup');
  await ada.getByTestId('snapshot-save').click();
  const version = ada.locator('[data-testid="snapshot"][data-label="Before cleanup"]');
  await version.waitFor({ timeout: WAIT });
  assert.match(await version.textContent(), /ada/);

  // delete a card, rename the other, add one
  await card(ada, cardId).getByTestId('card-title').click();
  await ada.getByTestId('card-dialog-delete').click();
  await card(ada, cardId).waitFor({ state: 'detached', timeout: WAIT });
  await editTitle(ada, second, 'Second card, renamed');
  await addCard(ada, 'done', 'Temporary');
  const changed = ['Second card, renamed', 'Temporary'];
  await eventually(async () => assert.deepEqual(await cardTitles(bob), changed));

  await version.getByTestId('snapshot-restore').click();
  await eventually(async () => {
    assert.deepEqual(await cardTitles(ada), saved, 'ada sees the restored cards');
    assert.deepEqual(await cardTitles(bob), saved, 'bob sees the restored cards');
  }, 20_000);
  assert.equal(await card(bob, cardId).getByTestId('card-votes').textContent(), '2', 'the votes came back too');
  await eventually(async () => {
    await synced(ada);
    await synced(bob);
  });
  for (const [name, u] of Object.entries(users)) {
    assert.deepEqual(u.page.errors.filter((e) => !OFFLINE_NOISE.test(e)), [], `no unexpected errors in ${name}'s page`);
  }
});
