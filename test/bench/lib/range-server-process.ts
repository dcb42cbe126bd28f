/**
 * The source of a range-serving HTTP server for `startChildServer`, so the
 * stream benchmark's client has its event loop to itself. It serves one
 * entity of `size` bytes (version `a`; version `b` is the same bytes
 * inverted, for "the file changed"), honours Range, If-Range, If-Match and
 * If-Unmodified-Since, and takes commands on stdin (each answered with one
 * line):
 *
 * - `reset <offset>,<offset>,…`: the response that covers each absolute
 *   offset writes the bytes up to it, then resets the connection (a real RST:
 *   what the kernel had not sent yet is lost, as in production); each
 *   offset cuts once
 * - `mode <json>`: `{ validator: 'etag' | 'lm' | 'none', change: boolean,
 *   ignoreRange: boolean, stallAt: number, resetDelayMs: number }`; `change`
 *   serves version `b` once a reset has cut a response; `stallAt` makes the
 *   first response go silent after that many bytes (the connection stays
 *   open); `resetDelayMs` waits that long after the bytes before a cut left
 *   for the kernel before resetting (so the client has read them)
 * - `path <path>`: only requests for this path are served (and counted);
 *   any other gets a 410 and is listed in `strays`, so a request that
 *   arrives after its download finished cannot take the next one's reset
 * - `stats`: `{ written, requests, ranges, strays, sha256a, sha256b }`, where
 *   `written` counts the body bytes the server wrote, cut ones included
 * - `clear`: no resets, honest mode, zero counters, stalled connections closed
 */
export function rangeServerSource(size: number): string {
  if (size % 4 !== 0) throw new RangeError('the entity size must be a multiple of 4');
  return `
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';

const SIZE = ${size};
const A = Buffer.allocUnsafe(SIZE);
let s = 0x9e3779b9;
for (let i = 0; i < SIZE; i += 4) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; A.writeUInt32LE(s >>> 0, i); }
const invert = (buf) => { const out = Buffer.allocUnsafe(buf.length); for (let i = 0; i < buf.length; i++) out[i] = buf[i] ^ 0xff; return out; };
const SHA_A = createHash('sha256').update(A).digest('hex');
const SHA_B = createHash('sha256').update(invert(A)).digest('hex');
const MODIFIED = { a: new Date(Date.now() - 7200e3).toUTCString(), b: new Date(Date.now() - 3600e3).toUTCString() };

let mode = {};
let resets = [];
let written = 0;
let ranges = [];
let responses = 0;
let cutOnce = false;
let active;
const strays = [];
const stalled = new Set();

const server = createServer((req, res) => {
  req.on('error', () => {});
  res.on('error', () => {});
  if (active !== undefined && req.url !== active) {
    strays.push(req.url + ' ' + (req.headers.range ?? 'whole'));
    return void res.writeHead(410).end();
  }
  responses++;
  const version = mode.change && cutOnce ? 'b' : 'a';
  const headers = {};
  if ((mode.validator ?? 'etag') === 'etag') headers.etag = '"' + version + '"';
  if ((mode.validator ?? 'etag') !== 'none') headers['last-modified'] = MODIFIED[version];
  const range = /^bytes=(\\d+)-(\\d*)$/.exec(req.headers.range ?? '');
  ranges.push(req.headers.range ?? null);
  let start = 0;
  let end = SIZE - 1;
  let status = 200;
  if (range && !mode.ignoreRange) {
    const ifMatch = req.headers['if-match'];
    const ifUnmodified = req.headers['if-unmodified-since'];
    if ((ifMatch && ifMatch !== headers.etag) || (ifUnmodified && ifUnmodified !== headers['last-modified'])) return void res.writeHead(412).end();
    const ifRange = req.headers['if-range'];
    if (!ifRange || ifRange === headers.etag || ifRange === headers['last-modified']) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), SIZE - 1) : SIZE - 1;
      if (start >= SIZE) return void res.writeHead(416, { 'content-range': 'bytes */' + SIZE }).end();
      status = 206;
      headers['content-range'] = 'bytes ' + start + '-' + end + '/' + SIZE;
    }
  }
  headers['content-length'] = end - start + 1;
  res.writeHead(status, headers);
  const cut = resets.find((offset) => offset > start && offset <= end);
  const stall = responses === 1 && mode.stallAt !== undefined ? mode.stallAt : undefined;
  const stop = cut ?? stall ?? end + 1;
  const body = A.subarray(start, stop);
  written += body.length;
  if (cut !== undefined) {
    resets = resets.filter((offset) => offset !== cut);
    cutOnce = true;
    const socket = res.socket;
    res.write(version === 'a' ? body : invert(body), () => setTimeout(() => socket?.resetAndDestroy(), mode.resetDelayMs ?? 0));
  } else if (stall !== undefined) {
    stalled.add(res.socket);
    res.write(version === 'a' ? body : invert(body));
  } else {
    res.end(version === 'a' ? body : invert(body));
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, argument = ''] = line.split(' ', 2);
  if (command === 'path') active = argument;
  else if (command === 'reset') resets = argument.split(',').filter(Boolean).map(Number);
  else if (command === 'mode') mode = JSON.parse(argument);
  else if (command === 'clear') {
    mode = {};
    resets = [];
    written = 0;
    ranges = [];
    responses = 0;
    cutOnce = false;
    for (const socket of stalled) socket?.destroy();
    stalled.clear();
  } else if (command === 'stats') {
    return void console.log(JSON.stringify({ written, requests: ranges.length, ranges, strays, sha256a: SHA_A, sha256b: SHA_B }));
  }
  console.log('ok');
});
`;
}

export interface RangeServerStats {
  readonly written: number;
  readonly requests: number;
  readonly ranges: (string | null)[];
  /** Requests for another path than the active one (a download that had finished), as `path range`. */
  readonly strays: string[];
  readonly sha256a: string;
  readonly sha256b: string;
}
