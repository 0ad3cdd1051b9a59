// BullMQ side of the Spillway side-by-side benchmarks: one mode per run, one JSON line on stdout.
//   node bullmq-bench.js <port> add     <n> <concurrency>   Queue.add, <concurrency> async loops
//   node bullmq-bench.js <port> addBulk <n> <batch>         Queue.addBulk in batches
//   node bullmq-bench.js <port> e2e     <n> <concurrency>   addBulk(500) while a Worker (no-op) runs; until n completed
//   node bullmq-bench.js <port> outage  <ms> <rate>         Queue.add at <rate>/s for <ms>; per-call latency and failures
const { Queue, Worker, QueueEvents } = require('bullmq');

const [port, mode, a1, a2] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const payload = { p: 'x'.repeat(200) };
const name = `bench-${mode}-${process.pid}-${Date.now()}`;

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  const r = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, Math.min(sorted.length - 1, r - 1))];
}

async function add(n, conc) {
  const q = new Queue(name, { connection });
  await q.waitUntilReady();
  const per = Math.floor(n / conc);
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: conc }, async () => {
    for (let i = 0; i < per; i++) await q.add('noop', payload);
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await q.close();
  return { jobsPerSec: (per * conc) / s, seconds: s };
}

async function addBulk(n, batch) {
  const q = new Queue(name, { connection });
  await q.waitUntilReady();
  const jobs = Array.from({ length: batch }, () => ({ name: 'noop', data: payload }));
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < n; done += batch) await q.addBulk(jobs);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await q.close();
  return { jobsPerSec: n / s, seconds: s };
}

async function e2e(n, conc) {
  const q = new Queue(name, { connection });
  await q.waitUntilReady();
  let done = 0;
  let resolveAll;
  const all = new Promise((r) => { resolveAll = r; });
  const w = new Worker(name, async () => {}, { connection, concurrency: conc, autorun: false });
  w.on('completed', () => { if (++done === n) resolveAll(); });
  await w.waitUntilReady();
  const t0 = process.hrtime.bigint();
  w.run();
  const jobs = Array.from({ length: 500 }, () => ({ name: 'noop', data: payload }));
  for (let i = 0; i < n; i += 500) await q.addBulk(jobs.slice(0, Math.min(500, n - i)));
  await all;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await w.close();
  await q.close();
  return { jobsPerSec: n / s, seconds: s };
}

async function outage(until, rate) {
  // Calls are made one after another (as a request handler would), paced to <rate>/s.
  const q = new Queue(name, { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null, enableOfflineQueue: true } });
  q.on('error', () => {});
  await q.waitUntilReady();
  const lat = [];
  let ok = 0, failed = 0;
  const errors = {};
  const end = until; // epoch ms: the Java side picks the window
  const gap = 1000 / rate;
  let next = Date.now();
  const started = Date.now();
  const timeline = [];
  while (Date.now() < end) {
    const t = process.hrtime.bigint();
    let good = 1;
    try { await q.add('noop', payload); ok++; } catch (e) { good = 0; failed++; errors[e.message] = (errors[e.message] || 0) + 1; }
    const l = Number(process.hrtime.bigint() - t) / 1e3;
    lat.push(l);
    timeline.push([Date.now(), l, good]);
    next += gap;
    const wait = next - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const counts = await q.getJobCounts('wait', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  await q.close();
  lat.sort((x, y) => x - y);
  return { ok, failed, errors, inRedis: Object.values(counts).reduce((x, y) => x + y, 0),
    p50us: pct(lat, 50), p99us: pct(lat, 99), maxus: lat[lat.length - 1], timeline };
}

(async () => {
  let r;
  if (mode === 'add') r = await add(a1, a2);
  else if (mode === 'addBulk') r = await addBulk(a1, a2);
  else if (mode === 'e2e') r = await e2e(a1, a2);
  else if (mode === 'outage') r = await outage(a1, a2);
  else throw new Error('unknown mode ' + mode);
  // exit only once stdout is flushed: a pipe takes 64 KiB at a time and process.exit would cut the line
  process.stdout.write(JSON.stringify(r) + '\n', () => process.exit(0));
})().catch((e) => { console.log(JSON.stringify({ error: String(e && e.stack || e) })); process.exit(1); });
