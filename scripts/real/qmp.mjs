// A minimal QMP client (QEMU Machine Protocol: one JSON object per line over a Unix socket).
// Only what the real-dump builder needs: the capabilities handshake, commands one at a time,
// and events ignored. Errors from QEMU reject with their `desc`.
import * as net from 'node:net';
import * as fs from 'node:fs';

export class Qmp {
  /** @param {net.Socket} sock */
  constructor(sock) {
    this.sock = sock;
    this.buf = '';
    /** @type {Array<{resolve: (v: any) => void, reject: (e: Error) => void}>} */
    this.waiting = [];
    this.greeted = new Promise((resolve) => { this.onGreeting = resolve; });
    sock.setEncoding('utf8');
    sock.on('data', (chunk) => {
      this.buf += chunk;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (line) this.onMessage(JSON.parse(line));
      }
    });
    sock.on('close', () => {
      for (const w of this.waiting.splice(0)) w.reject(new Error('QMP connection closed'));
    });
  }

  onMessage(m) {
    if (m.QMP) return this.onGreeting(m);
    if (m.event) return;
    const w = this.waiting.shift();
    if (!w) return;
    if (m.error) w.reject(new Error(`QMP: ${m.error.class}: ${m.error.desc}`));
    else w.resolve(m.return);
  }

  /** Sends one command and resolves with its `return`. */
  execute(command, args) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    });
  }

  close() { this.sock.destroy(); }

  /** Connects to QEMU's QMP socket (retrying while QEMU creates it) and negotiates capabilities. */
  static async connect(path, timeoutMs = 30000) {
    const start = Date.now();
    for (;;) {
      if (fs.existsSync(path)) {
        try {
          const sock = await new Promise((resolve, reject) => {
            const s = net.createConnection(path);
            s.once('connect', () => resolve(s));
            s.once('error', reject);
          });
          const q = new Qmp(sock);
          await q.greeted;
          await q.execute('qmp_capabilities');
          return q;
        } catch (e) {
          if (Date.now() - start > timeoutMs) throw e;
        }
      }
      if (Date.now() - start > timeoutMs) throw new Error(`QMP socket ${path} did not appear`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
