// The control API's client (docs/control.md): signs requests for guest-src/apps/control.ts and sends
// them over HTTP/1.1. A request carries X-Denali-Timestamp (milliseconds since the epoch, strictly
// increasing within this process: the server refuses a timestamp not above the last it accepted) and
// X-Denali-Signature, the hex HMAC-SHA256 under the key of
//   METHOD "\n" TARGET "\n" TIMESTAMP "\n" BODY.
// The key file holds 64 hex digits (32 bytes), as `denali boot` writes it (controlKeyFile). Errors
// name their cause: ControlError's message says whether the server was unreachable, refused the
// signature (401), or answered an error (its `error` and `reason`).
import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { existsSync, readFileSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';

export interface ControlResponse { status: number; body: Buffer; json?: unknown }

export class ControlError extends Error {
  constructor(message: string, readonly status?: number) { super(message); this.name = 'ControlError'; }
}

const KEY_HEX = /^[0-9a-fA-F]{64}$/;

/** The key in `file` (64 hex digits, surrounding white space ignored). */
export function readControlKey(file: string): Buffer {
  if (!existsSync(file)) throw new ControlError(`no such key file: ${file}`);
  const text = readFileSync(file, 'utf8').trim();
  if (!KEY_HEX.test(text)) throw new ControlError(`${file} is not a key: it must hold 64 hex digits`);
  return Buffer.from(text, 'hex');
}

/** The key file `file`, created with a fresh random key (readable by its owner only) when it does not exist. */
export function controlKeyFile(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  readControlKey(file);
  return file;
}

/** The signature of a request (hex). */
export function signRequest(key: Buffer, method: string, target: string, timestamp: string, body: Buffer): string {
  const mac = createHmac('sha256', key);
  mac.update(`${method}\n${target}\n${timestamp}\n`);
  mac.update(body);
  return mac.digest('hex');
}

let lastTimestamp = 0;

/** A timestamp above every one this process used: the server refuses the others as replays. */
export function nextTimestamp(): string {
  lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
  return String(lastTimestamp);
}

interface SendOptions {
  /** Headers to send as they are (tests: a missing or forged signature). */
  headers?: Record<string, string>;
  /** Send without signing. */
  unsigned?: boolean;
  timeoutMs?: number;
}

/** Sends one request; resolves with the answer whatever its status, rejects (ControlError) when unreachable. */
export function controlSend(url: string, key: Buffer | null, method: string, target: string,
  body: Buffer = Buffer.alloc(0),
  options: SendOptions = {}): Promise<ControlResponse> {
  const base = new URL(url);
  const headers: Record<string, string> = { 'Content-Length': String(body.length), ...options.headers };
  if (!options.unsigned && key) {
    const timestamp = nextTimestamp();
    headers['X-Denali-Timestamp'] = timestamp;
    headers['X-Denali-Signature'] = signRequest(key, method, target, timestamp, body);
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: base.hostname, port: base.port || 80, method, path: target, headers, timeout: options.timeoutMs ?? 30_000,
    }, res => {
      const chunks: Buffer[] = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const data = Buffer.concat(chunks);
        let json: unknown;
        if ((res.headers['content-type'] ?? '').includes('json')) {
          try { json = JSON.parse(data.toString('utf8')); } catch { /* not JSON after all: left undefined */ }
        }
        resolve({ status: res.statusCode ?? 0, body: data, json });
      });
      res.on('error', e => reject(new ControlError(`${url}: ${e.message}`)));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in time')));
    req.on('error',
      (e: NodeJS.ErrnoException) => reject(new ControlError(`cannot reach ${url}: ${e.code ?? e.message}`)));
    req.end(body);
  });
}

/** What an error answer says: `401 unauthorized: bad signature`, `422 ENOEXEC: refused image: ...`. */
function describeError(r: ControlResponse): string {
  const j = r.json as { error?: string; reason?: string } | undefined;
  const what = j?.error ? `${j.error}: ${j.reason ?? ''}` : r.body.toString('utf8').slice(0, 200);
  if (r.status === 401) return `401 unauthorized (${j?.reason ?? 'no reason'}): is the key the control VM's?`;
  return `${r.status} ${what}`;
}

/** Sends a signed request and returns its JSON; a non-2xx answer throws ControlError naming the cause. */
export async function controlCall(url: string, key: Buffer, method: string, target: string,
  body?: Buffer): Promise<unknown> {
  const r = await controlSend(url, key, method, target, body);
  if (r.status < 200 || r.status > 299) throw new ControlError(describeError(r), r.status);
  return r.json ?? r.body;
}
