// Real Chromium, real IndexedDB: writes survive a reload and a browser restart once flushed; several
// tabs of one store (offline) never lose each other's writes, also when the leader tab closes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ROOT, launch, openPage, serve } from './harness.mjs';

let server;
let browser;
let pageUrl;

before(async () => {
  server = await serve({ '/': ROOT });
  browser = await launch();
  pageUrl = `${server.url}/tests/browser/pages/app.html`;
});

after(async () => {
  await browser?.stop();
  await server?.close();
});

// Runs in the page: opens (or reuses) the store named `name` and keeps it on window.stores.
async function openIn(page, name, extra = {}) {
  return page.evaluate(async ({ name, extra }) => {
    window.stores ??= {};
    const store = await window.syncore.openStore({ name, collections: { notes: {} }, ...extra });
    window.stores[name] = store;
    return { status: store.status, count: store.collection('notes').count() };
  }, { name, extra });
}

test('write, flush, reload: the data is there; and after a browser restart', async () => {
  let page = await openPage(browser.context, pageUrl);
  const opened = await openIn(page, 'reload');
  assert.equal(opened.count, 0);
  const status = await page.evaluate(async () => {
    const notes = window.stores.reload.collection('notes');
    for (let i = 0; i < 50; i++) await notes.put({ id: `n${i}`, text: `note ${i}`, n: i });
    await notes.update('n3', { text: 'changed' });
    await notes.delete('n4');
    const before = window.stores.reload.status.persisted;
    await window.stores.reload.flush();
    return { before, after: window.stores.reload.status.persisted };
  });
  assert.equal(status.after, true, 'persisted after flush()');
  await page.reload();
  await page.waitForFunction(() => window.ready === true);
  const got = await openIn(page, 'reload');
  assert.equal(got.count, 49);
  assert.deepEqual(await page.evaluate(() => window.stores.reload.collection('notes').get('n3')), { id: 'n3', text: 'changed', n: 3 });
  assert.equal(await page.evaluate(() => window.stores.reload.collection('notes').get('n4')), null);
  await page.close();

  await browser.restart();
  page = await openPage(browser.context, pageUrl);
  const again = await openIn(page, 'reload');
  assert.equal(again.count, 49, 'data survives a browser restart');
  await page.close();
});

test('status.persisted is false until the debounced save lands, then true without flush()', async () => {
  const page = await openPage(browser.context, pageUrl);
  await openIn(page, 'debounce', { debounceMs: 200 });
  const r = await page.evaluate(async () => {
    const store = window.stores.debounce;
    await store.collection('notes').put({ id: 'a', text: 'x' });
    const right = store.status.persisted;
    const t0 = performance.now();
    while (!store.status.persisted && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    return { right, later: store.status.persisted };
  });
  assert.equal(r.right, false, 'not claimed before IndexedDB has it');
  assert.equal(r.later, true);
  await page.close();
});

test('two tabs write concurrently while offline; both close; every write is there', async () => {
  const a = await openPage(browser.context, pageUrl);
  const b = await openPage(browser.context, pageUrl);
  await openIn(a, 'tabs');
  await openIn(b, 'tabs');
  await browser.context.setOffline(true); // the pages are loaded; from here on no network at all
  try {
  const write = (page, prefix) => page.evaluate(async (prefix) => {
    const notes = window.stores.tabs.collection('notes');
    for (let i = 0; i < 40; i++) {
      await notes.put({ id: `${prefix}${i}`, by: prefix });
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 1));
    }
  }, prefix);
  await Promise.all([write(a, 'a'), write(b, 'b')]);
  // every tab sees every tab's writes at once (well: after the BroadcastChannel hop)
  for (const page of [a, b]) {
    await page.waitForFunction(() => window.stores.tabs.collection('notes').count() === 80, null, { timeout: 10_000 });
  }
  await b.evaluate(() => window.stores.tabs.flush());
  await a.evaluate(() => window.stores.tabs.flush());
  await a.close();
  await b.close();
  } finally {
    await browser.context.setOffline(false);
  }
  const c = await openPage(browser.context, pageUrl);
  const got = await openIn(c, 'tabs');
  assert.equal(got.count, 80);
  await c.close();
});

test('the leader tab closes mid-way: a follower takes over and nothing is lost', async () => {
  // The leader never saves on its own (huge debounce) and closes without flushing: its writes exist only
  // in its memory and in the follower's replica. The follower must take over and persist them. (The
  // follower has the huge debounce too: a follower that received writes asks the leader to save them,
  // 20 ms later by default, which would save the leader's writes before it closes.)
  const leader = await openPage(browser.context, pageUrl);
  await openIn(leader, 'failover', { debounceMs: 600_000 });
  const follower = await openPage(browser.context, pageUrl);
  await openIn(follower, 'failover', { debounceMs: 600_000 });
  await leader.evaluate(async () => {
    const notes = window.stores.failover.collection('notes');
    for (let i = 0; i < 20; i++) await notes.put({ id: `L${i}` });
  });
  await follower.waitForFunction(() => window.stores.failover.collection('notes').count() === 20, null, { timeout: 10_000 });
  assert.equal(await leader.evaluate(() => window.stores.failover.status.persisted), false, 'the leader has not saved');
  await leader.close(); // a closed tab runs no more code: no flush, no unload handler
  await follower.evaluate(async () => {
    const notes = window.stores.failover.collection('notes');
    for (let i = 0; i < 10; i++) await notes.put({ id: `F${i}` });
    await window.stores.failover.flush();
  });
  assert.equal(await follower.evaluate(() => window.stores.failover.status.persisted), true);
  assert.deepEqual(follower.errors, []);
  await follower.close();
  const fresh = await openPage(browser.context, pageUrl);
  const got = await openIn(fresh, 'failover');
  assert.equal(got.count, 30, "the old leader's unsaved writes and the follower's, all persisted");
  await fresh.close();
});
