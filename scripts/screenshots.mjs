#!/usr/bin/env node
// Screenshots of the demo's main states, for the docs: starts the demo (relay + app server) on free
// ports with a throwaway data directory, drives Chromium profiles (Debian's chromium through
// playwright-core, as the browser tests do; never a downloaded browser) through the app's UI and writes
// PNGs to docs/screenshots/: 1280x800 views and one 390x844 phone view of the board.
//
//   node scripts/screenshots.mjs            (needs the built module: npm run build)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemo } from '../demo/server.mjs';
import { launch } from '../tests/browser/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'docs', 'screenshots');
const WAIT = 20_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function shot(page, name) {
  await sleep(350); // let transitions and toasts settle
  const file = path.join(OUT, name);
  await page.screenshot({ path: file });
  process.stdout.write(`  ${path.relative(ROOT, file)}\n`);
}

async function open(browser, url, viewport = DESKTOP) {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  page.on('pageerror', (e) => process.stderr.write(`page error: ${e}\n`));
  await page.goto(url, { timeout: 30_000 });
  return page;
}

async function signIn(page, name, role = 'editor') {
  await page.getByTestId('signin-name').fill(name, { timeout: WAIT });
  await page.getByTestId(role === 'viewer' ? 'signin-viewer' : 'signin-editor').click();
  await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
}

async function pickBoard(page, name) {
  await page.locator('[data-testid="board-item"]', { hasText: name }).click({ timeout: WAIT });
  await page.locator('[data-testid="column"]').nth(2).waitFor({ timeout: WAIT });
}

const card = (page, id) => page.locator(`[data-testid="card"][data-card-id="${id}"]`);

/** Adds a card through the column's input, then fills the rest in the card dialog. Resolves to its id. */
async function addCard(page, column, title, { notes, assignee, done, votes = 0 } = {}) {
  const input = page.locator(`[data-testid="column"][data-column-id="${column}"]`).getByTestId('add-card-input');
  await input.fill(title);
  await input.press('Enter');
  const c = page.locator('[data-testid="card"]', { has: page.getByTestId('card-title').getByText(title, { exact: true }) });
  await c.waitFor({ timeout: WAIT });
  const id = await c.getAttribute('data-card-id');
  if (notes || assignee || done) {
    await c.getByTestId('card-title').click();
    const d = page.getByTestId('card-dialog');
    if (notes) await d.getByTestId('card-dialog-notes').fill(notes);
    if (assignee) await d.getByTestId('card-dialog-assignee').fill(assignee);
    if (done) await d.getByTestId('card-dialog-done').check();
    await d.getByTestId('card-dialog-save').click();
    await d.waitFor({ state: 'hidden', timeout: WAIT });
  }
  for (let i = 0; i < votes; i++) await card(page, id).getByTestId('card-vote').click();
  return id;
}

async function editTitle(page, id, title) {
  await card(page, id).getByTestId('card-title').click();
  const d = page.getByTestId('card-dialog');
  await d.getByTestId('card-dialog-title').fill(title);
  await d.getByTestId('card-dialog-save').click();
  await d.waitFor({ state: 'hidden', timeout: WAIT });
}

async function until(fn, ms = WAIT) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${fn}`);
    await sleep(100);
  }
}

const synced = async (page) => (await page.getByTestId('status-synced').getAttribute('data-state')) === 'yes'
  && (await page.getByTestId('status-pending').getAttribute('data-count')) === '0';

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'syncore-demo-shots-'));
  const demo = await startDemo({ port: 0, relayPort: 0, data, log: () => {} });
  const browsers = [];
  try {
    const [ada, bob, cyd] = await Promise.all([launch(), launch(), launch()]);
    browsers.push(ada, bob, cyd);

    // 1. sign-in
    const pa = await open(ada, demo.url);
    await pa.getByTestId('signin-name').fill('Ada');
    await shot(pa, '01-sign-in.png');

    // a board with some work on it
    await signIn(pa, 'Ada');
    for (const name of ['Launch plan', 'Ideas backlog']) {
      await pa.getByTestId('new-board-name').fill(name);
      await pa.getByTestId('new-board-submit').click();
      await pa.locator('[data-testid="column"]').nth(2).waitFor({ timeout: WAIT });
    }
    await pickBoard(pa, 'Launch plan');
    const blog = await addCard(pa, 'todo', 'Write the launch blog post', { notes: 'Draft by Friday. Ask Bob for the offline screenshots.', assignee: 'Ada', votes: 3 });
    await addCard(pa, 'todo', 'Plan the demo day', { assignee: 'Bob', votes: 1 });
    await addCard(pa, 'todo', 'Update the pricing page');
    const qa = await addCard(pa, 'doing', 'Offline mode QA', { notes: 'Airplane mode on phones, flaky Wi-Fi, two tabs.', assignee: 'Bob', votes: 2 });
    await addCard(pa, 'doing', 'Onboarding emails', { assignee: 'Ada' });
    await addCard(pa, 'done', 'Set up the relay', { assignee: 'Bob', done: true, votes: 1 });
    await addCard(pa, 'done', 'Pick a name', { done: true });

    // 2. two users on the board: bob is editing a card, ada sees him and the mark on the card
    const pb = await open(bob, demo.url);
    await signIn(pb, 'Bob');
    await pickBoard(pb, 'Launch plan');
    await card(pb, qa).waitFor({ timeout: WAIT });
    await pa.locator('[data-testid="presence-avatar"][data-user="Bob"]').waitFor({ timeout: WAIT });
    await card(pb, qa).getByTestId('card-title').click();
    await card(pa, qa).getByTestId('card-editing').waitFor({ timeout: WAIT });
    await until(() => synced(pa));
    await shot(pa, '02-board-two-users.png');
    await pb.getByTestId('card-dialog-cancel').click();

    // 3. bob offline with pending changes
    await pb.waitForSelector('body[data-offline-ready]', { timeout: WAIT });
    await pb.getByTestId('offline-toggle').click();
    await bob.context.setOffline(true);
    await editTitle(pb, blog, 'Write the launch post (short version)');
    await addCard(pb, 'todo', 'Record a 2-minute video');
    await card(pb, qa).getByTestId('card-move-right').click();
    await sleep(400);
    await shot(pb, '03-offline-pending-changes.png');

    // 4. ada edits the same title meanwhile; bob comes back: his value lost, the inbox has it
    await editTitle(pa, blog, 'Write the launch blog post and the changelog');
    await until(() => synced(pa));
    await bob.context.setOffline(false);
    await pb.getByTestId('offline-toggle').click();
    await until(async () => Number(await pb.getByTestId('conflicts-count').getAttribute('data-count')) > 0);
    await until(() => synced(pb));
    await pb.getByTestId('conflicts-button').click();
    await pb.getByTestId('conflict').first().waitFor({ timeout: WAIT });
    await pb.getByTestId('conflict-merge').first().click();
    await shot(pb, '04-conflict-inbox.png');
    await pb.getByTestId('conflict-keep-theirs').first().click();
    await pb.getByTestId('conflicts-close').click();

    // 5. history: versions saved on ada's device
    await pa.getByTestId('history-button').click();
    for (const label of ['Kickoff', 'Before the launch week']) {
      await pa.getByTestId('snapshot-label').fill(label);
      await pa.getByTestId('snapshot-save').click();
      await pa.locator(`[data-testid="snapshot"][data-label="${label}"]`).waitFor({ timeout: WAIT });
      await sleep(1100); // distinct times in the list
    }
    await shot(pa, '05-history.png');
    await pa.getByTestId('history-close').click();

    // 6. a viewer
    const pc = await open(cyd, demo.url);
    await signIn(pc, 'Cyd', 'viewer');
    await pickBoard(pc, 'Launch plan');
    await card(pc, qa).waitFor({ timeout: WAIT });
    await until(() => synced(pc));
    await pc.locator('[data-testid="presence-avatar"][data-user="Ada"]').waitFor({ timeout: WAIT });
    await shot(pc, '06-viewer-read-only.png');

    // 7. the board on a phone (ada's profile: her desktop tab closes first, so the phone tab leads and syncs)
    await pa.close();
    const phone = await open(ada, demo.url, PHONE);
    await phone.waitForSelector('body[data-ready]', { timeout: 30_000 });
    await card(phone, blog).waitFor({ timeout: WAIT });
    await until(() => synced(phone));
    await shot(phone, '07-phone-board.png');
  } finally {
    await bobOnline(browsers[1]);
    await Promise.all(browsers.map((b) => b.stop()));
    await demo.stop();
    fs.rmSync(data, { recursive: true, force: true });
  }
}

async function bobOnline(b) {
  await b?.context.setOffline(false).catch(() => {});
}

const timer = setTimeout(() => {
  process.stderr.write('screenshots: gave up after 180 s\n');
  process.exit(1);
}, 180_000);
timer.unref();
main().then(() => process.stdout.write(`screenshots written to ${path.relative(process.cwd(), OUT) || '.'}\n`), (err) => {
  process.stderr.write(`screenshots: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});
