// The HTTP fallback transport (docs/PROTOCOL.md, "HTTP fallback"), used by js/sync.mjs when a WebSocket
// cannot be opened: live frames arrive as Server-Sent Events (read with fetch, so the token travels in a
// header), and what the client sends goes in POST requests, each starting with a fresh hello. It looks
// like a WebSocket to the sync client: readyState, send(bytes), close(), onopen/onmessage/onclose.
import { encodeFrame } from './protocol.mjs';

function b64(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export class HttpTransport {
  /**
   * base: 'http(s)://host:port'; channel; collections; token (string); m: the core module;
   * makeHello(): a hello frame with the client's current vector (each request starts with one).
   */
  constructor({ base, channel, collections, token, m, makeHello }) {
    this.readyState = 0;
    this.binaryType = 'arraybuffer';
    this.m = m;
    this.base = base;
    this.channel = channel;
    this.token = token;
    this.makeHello = makeHello;
    this.queue = [];
    this.posting = false;
    this.helloWanted = false;
    this.abort = new AbortController();
    this.onopen = this.onmessage = this.onclose = this.onerror = this.onbeat = null;
    const q = `channel=${encodeURIComponent(channel)}${collections.length ? `&collections=${encodeURIComponent(collections.join(','))}` : ''}`;
    this.query = q;
    this._events().catch(() => this._closed());
  }

  /** The client says hello: each request carries its own fresh one, so this just asks for a request. */
  hello() {
    this.helloWanted = true;
    this._schedule();
  }

  send(bytes) {
    if (this.readyState !== 1) return;
    this.queue.push(bytes);
    this._schedule();
  }

  close() {
    if (this.readyState === 3) return;
    this.abort.abort();
    this._closed();
  }

  _closed() {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.abort.abort();
    setTimeout(() => this.onclose?.({ code: 1006 }), 0);
  }

  _deliver(bytes) {
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  _refused(status, body) {
    let info = null;
    try {
      info = JSON.parse(body);
    } catch {
      // not the relay's JSON
    }
    const code = typeof info?.code === 'string' ? info.code : 'http';
    const message = typeof info?.message === 'string' ? info.message : `HTTP ${status}`;
    this._deliver(encodeFrame(this.m, { t: 'error', code, message, fatal: true }));
  }

  async _events() {
    const res = await fetch(`${this.base}/v1/events?${this.query}`, {
      headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
      signal: this.abort.signal,
      cache: 'no-store',
    });
    if (!res.ok) {
      this.readyState = 1; // so the refusal is read like a relay's error frame
      this._refused(res.status, await res.text());
      this._closed();
      return;
    }
    this.readyState = 1;
    this.onopen?.();
    const reader = res.body.getReader();
    const text = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += text.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        this.onbeat?.();
        for (const line of event.split('\n')) if (line.startsWith('data: ')) this._deliver(b64(line.slice(6)));
      }
    }
    this._closed();
  }

  _schedule() {
    if (this.posting || this.readyState !== 1) return;
    this.posting = true;
    setTimeout(() => this._post().catch(() => this._closed()), 0);
  }

  async _post() {
    while (this.readyState === 1 && (this.queue.length || this.helloWanted)) {
      this.helloWanted = false;
      const frames = [this.makeHello(), ...this.queue.splice(0)];
      const body = new Uint8Array(frames.reduce((n, f) => n + 4 + f.length, 0));
      const view = new DataView(body.buffer);
      let at = 0;
      for (const f of frames) {
        view.setUint32(at, f.length);
        body.set(f, at + 4);
        at += 4 + f.length;
      }
      const res = await fetch(`${this.base}/v1/sync?${this.query}`, {
        method: 'POST', body, signal: this.abort.signal, cache: 'no-store',
        headers: { 'content-type': 'application/octet-stream' },
      });
      if (!res.ok) {
        this._refused(res.status, await res.text());
        this._closed();
        return;
      }
      const answer = new Uint8Array(await res.arrayBuffer());
      const dv = new DataView(answer.buffer, answer.byteOffset, answer.byteLength);
      for (let i = 0; i + 4 <= answer.length;) {
        const n = dv.getUint32(i);
        if (i + 4 + n > answer.length) break;
        this.onbeat?.();
        this._deliver(answer.subarray(i + 4, i + 4 + n));
        i += 4 + n;
      }
    }
    this.posting = false;
  }
}
