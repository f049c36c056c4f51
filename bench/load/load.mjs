// The load test: serving under sustained load, measured over real HTTP with autocannon.
//
// Starts the local host on MovieLens as the main job does (it keeps serving after the replay), waits
// for the replay to finish, then, each figure next to a baseline measured in the same run (the HTTP
// floor: GET /api/health at the same concurrency or rate) and next to its target:
//   1. ramp: POST /api/rank at rising concurrency (a fresh random member per request);
//   2. sustained: a fixed overall rate for a while;
//   3. recovery: how long until the feature log has caught up, then sequential requests answered by the model;
//   4. the host's memory (VmRSS, VmHWM from /proc/<pid>/status) before, during and after the load.
// Prints the table and writes it as JSON and markdown under .run/. Exits 0 whether targets are met or
// not (it is a benchmark); 2 when it could not run. Usage: scripts/load.sh --help.

import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const usage = `Usage: scripts/load.sh [options] [-- host options]
  --max-ratings N        replay only the first N ratings (default: all of MovieLens)
  --stages 1,4,16,64     concurrency of the ramp stages
  --stage-seconds 15     length of each ramp stage
  --baseline-seconds 5   length of each baseline (GET /api/health) run
  --rate 1000            sustained rate, requests per second overall
  --duration 60          sustained stage length, seconds
  --connections 64       connections of the sustained stage, over all slices (at most --rate)
  --slices 20            the sustained rate comes from this many autocannon instances started evenly over a second
  --members 610          members are drawn uniformly from 1..N
  --recovery-timeout 120 longest wait for the feature log to catch up, seconds
  --sequential 40        sequential rank requests after recovery
  --ready-timeout 1800   longest wait for the host's replay, seconds
  --host <dll>           the local host (default local-host/bin/Release/net10.0/Serverless.LocalHost.dll)
  --out <dir>            where the results go (default .run)
  --seed 7               seed of the member sequence
Anything after -- goes to the local host (e.g. -- --traffic 0.05 --train-at 0.8).`;

function parseArgs(argv) {
  const o = {
    maxRatings: null, stages: [1, 4, 16, 64], stageSeconds: 15, baselineSeconds: 5, rate: 1000, duration: 60,
    connections: 64, slices: 20, members: 610, recoveryTimeout: 120, sequential: 40, readyTimeout: 1800,
    host: path.join(root, 'local-host', 'bin', 'Release', 'net10.0', 'Serverless.LocalHost.dll'),
    out: path.join(root, '.run'), seed: 7, hostArgs: [],
  };
  const number = (name, v, min) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min) throw new Error(`${name} needs a number >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    switch (a) {
      case '--max-ratings': o.maxRatings = Math.floor(number(a, next(), 1)); break;
      case '--stages': {
        const v = next() ?? '';
        o.stages = v.split(',').filter(s => s !== '').map(s => Math.floor(number(a, s, 1)));
        if (o.stages.length === 0) throw new Error('--stages needs at least one concurrency');
        break;
      }
      case '--stage-seconds': o.stageSeconds = number(a, next(), 1); break;
      case '--baseline-seconds': o.baselineSeconds = number(a, next(), 1); break;
      case '--rate': o.rate = Math.floor(number(a, next(), 1)); break;
      case '--duration': o.duration = number(a, next(), 1); break;
      case '--connections': o.connections = Math.floor(number(a, next(), 1)); break;
      case '--slices': o.slices = Math.floor(number(a, next(), 1)); break;
      case '--members': o.members = Math.floor(number(a, next(), 1)); break;
      case '--recovery-timeout': o.recoveryTimeout = number(a, next(), 1); break;
      case '--sequential': o.sequential = Math.floor(number(a, next(), 1)); break;
      case '--ready-timeout': o.readyTimeout = number(a, next(), 1); break;
      case '--host': o.host = path.resolve(next() ?? ''); break;
      case '--out': o.out = path.resolve(next() ?? ''); break;
      case '--seed': o.seed = Math.floor(number(a, next(), 0)); break;
      case '--help': case '-h': console.log(usage); process.exit(0); break;
      case '--': o.hostArgs = argv.slice(i + 1); i = argv.length; break;
      default: throw new Error(`unknown option '${a}'\n${usage}`);
    }
  }
  return o;
}

// A small seeded generator (mulberry32), so a run's member sequence can be repeated.
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const log = message => console.log(`[load ${new Date().toISOString().slice(11, 19)}] ${message}`);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---- the host process --------------------------------------------------------------------------

const readyLine = 'Replayed and archived';

function startHost(o, port, logFile) {
  const args = [o.host, '--port', String(port), '--replay', 'data/movielens'];
  if (o.maxRatings) args.push('--max-ratings', String(o.maxRatings));
  args.push(...o.hostArgs);
  const child = spawn('dotnet', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const file = createWriteStream(logFile);
  let tail = '';
  let resolveReady;
  let rejectReady;
  const ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  const exited = new Promise(resolve => child.on('exit', (code, signal) => resolve({ code, signal })));
  const scan = chunk => {
    file.write(chunk);
    tail = (tail + chunk.toString()).slice(-4096);
    if (tail.includes(readyLine)) resolveReady();
  };
  child.stdout.on('data', scan);
  child.stderr.on('data', scan);
  child.on('error', error => rejectReady(error));
  exited.then(({ code, signal }) => {
    rejectReady(new Error(`the host exited (code ${code}, signal ${signal}) before its replay finished; see ${logFile}`));
    file.end();
  });
  return { child, ready, exited };
}

async function stopHost(host) {
  if (host.child.exitCode !== null || host.child.signalCode !== null) return;
  // SIGTERM, as a service manager would: the host shuts down gracefully, stopping Azurite with it.
  host.child.kill('SIGTERM');
  let timer;
  const stopped = await Promise.race([host.exited.then(() => true), new Promise(resolve => { timer = setTimeout(() => resolve(false), 30_000); })]);
  clearTimeout(timer);
  if (!stopped) {
    log('the host did not stop within 30 s of SIGTERM; killing it');
    host.child.kill('SIGKILL');
    await host.exited;
  }
}

// Memory of a process from /proc/<pid>/status, in MB (null where /proc is not available).
function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = name => Number((status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm')) ?? [])[1]);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return { rssMb: null, hwmMb: null };
  }
}

// Samples the host's memory every second while load runs; the largest VmRSS seen.
function memorySampler(pid) {
  let peakRss = null;
  const sample = () => {
    const m = memory(pid);
    if (m.rssMb !== null && (peakRss === null || m.rssMb > peakRss)) peakRss = m.rssMb;
  };
  sample();
  const timer = setInterval(sample, 1000);
  return { stop: () => { clearInterval(timer); sample(); return peakRss; } };
}

// ---- HTTP --------------------------------------------------------------------------------------

async function getJson(base, route) {
  const response = await fetch(base + route, { signal: AbortSignal.timeout(10_000) });
  // /api/health answers 503 with the same report when a limit is exceeded: that is a reading, not a failure.
  if (!response.ok && !(route === '/api/health' && response.status === 503)) throw new Error(`GET ${route}: ${response.status}`);
  return response.json();
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// One stage: autocannon runs against one route. Latencies are taken from every response (exact, in
// ms); the rank bodies are read for "fallback": true and its reason. A fixed rate is offered by
// `slices` autocannon instances started evenly over the first second: autocannon spends each
// connection's share of a rate at the start of each second, so one instance would send the whole
// second's requests in one burst; staggered instances send as many smaller bursts.
// For a fixed rate, p99co is the p99 corrected for coordinated omission: a response slower than its
// connection's interval (connections / rate) stands also for the requests that connection did not
// send meanwhile (HdrHistogram's recordValueWithExpectedInterval).
async function run(base, { route, method = 'GET', connections, seconds, rate, slices = 1, memberOf }) {
  const latencies = [];
  const corrected = [];
  const statuses = {};
  let answered = 0;
  let fallbacks = 0;
  const reasons = {};
  const request = { method, path: route };
  if (memberOf) {
    request.headers = { 'content-type': 'application/json' };
    request.setupRequest = r => ({ ...r, body: JSON.stringify({ member: memberOf(), count: 10 }) });
    request.onResponse = (status, body) => {
      if (status < 200 || status > 299) return;
      answered++;
      if (/"fallback"\s*:\s*true/.test(body)) {
        fallbacks++;
        const reason = (body.match(/"fallbackReason"\s*:\s*"([^"]*)"/) ?? [])[1] ?? 'unknown';
        reasons[reason] = (reasons[reason] ?? 0) + 1;
      }
    };
  }

  const parts = rate ? Math.max(1, Math.min(slices, rate)) : 1;
  const instances = [];
  for (let i = 0; i < parts; i++) {
    const share = rate ? Math.floor(rate / parts) + (i < rate % parts ? 1 : 0) : null;
    const options = {
      url: base + route,
      connections: rate ? Math.max(1, Math.min(Math.ceil(connections / parts), share)) : connections,
      duration: seconds,
      timeout: 10,
      requests: [request],
    };
    if (rate) {
      options.overallRate = share;
      // Latencies are taken per response below; autocannon's own histogram is not used.
      options.ignoreCoordinatedOmission = true;
    }
    const interval = rate ? (1000 * options.connections) / share : null;
    instances.push((async () => {
      if (i > 0) await sleep((1000 * i) / parts);
      const instance = autocannon(options);
      instance.on('response', (client, statusCode, resBytes, responseTime) => {
        latencies.push(responseTime);
        statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
        if (interval) {
          corrected.push(responseTime);
          for (let missed = responseTime - interval; missed > interval; missed -= interval) corrected.push(missed);
        }
      });
      const result = await instance;
      return { result, connections: options.connections };
    })());
  }
  const results = await Promise.all(instances);
  latencies.sort((a, b) => a - b);
  corrected.sort((a, b) => a - b);
  const sum = f => results.reduce((total, r) => total + f(r), 0);
  return {
    route, connections: sum(r => r.connections), rate: rate ?? null, slices: parts, seconds: Math.max(...results.map(r => r.result.duration)),
    responses: latencies.length, requestsPerSecond: sum(r => r.result.duration > 0 ? countOf(r.result) / r.result.duration : 0),
    p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? null,
    p99co: rate ? percentile(corrected, 99) : null,
    errors: sum(r => r.result.errors), timeouts: sum(r => r.result.timeouts), non2xx: sum(r => r.result.non2xx), statuses,
    answered, fallbacks, fallbackShare: memberOf ? (answered > 0 ? fallbacks / answered : null) : null, fallbackReasons: reasons,
  };
}

// Responses one autocannon instance received (2xx and others).
function countOf(result) {
  return Object.values(result.statusCodeStats ?? {}).reduce((total, s) => total + Number(s.count), 0);
}

// The feature log's lag: /api/health's featureLog.lagEvents when the host reports it, else the local
// hub's counters (events published to the feature-log hub not yet checkpointed by every consumer group).
async function featureLogState(base) {
  const health = await getJson(base, '/api/health');
  const fl = health?.featureLog ?? {};
  let lag = typeof fl.lagEvents === 'number' ? fl.lagEvents : null;
  let source = 'health featureLog.lagEvents';
  if (lag === null) {
    const hubs = await getJson(base, '/local/hubs');
    const groups = (Array.isArray(hubs) ? hubs : []).filter(h => h.hub === 'feature-log');
    lag = groups.length === 0 ? 0 : Math.max(...groups.map(h => h.published - h.checkpointed));
    source = 'local hub counters (feature-log: published - checkpointed)';
  }
  return {
    lag, source,
    pending: typeof fl.pending === 'number' ? fl.pending : null,
    published: typeof fl.published === 'number' ? fl.published : null,
    dropped: typeof fl.dropped === 'number' ? fl.dropped : null,
    healthy: typeof health?.healthy === 'boolean' ? health.healthy : null,
    problems: Array.isArray(health?.problems) ? health.problems.map(p => typeof p === 'string' ? p : JSON.stringify(p)).join('; ') : null,
  };
}

async function recovery(base, timeoutSeconds) {
  const started = performance.now();
  const first = await featureLogState(base);
  let state = first;
  while (true) {
    const caughtUp = state.lag === 0 && (state.pending === null || state.pending === 0);
    const seconds = (performance.now() - started) / 1000;
    if (caughtUp) return { seconds, first, last: state, caughtUp: true };
    if (seconds >= timeoutSeconds) return { seconds, first, last: state, caughtUp: false };
    await sleep(250);
    state = await featureLogState(base);
  }
}

async function sequential(base, count, memberOf) {
  let model = 0;
  const reasons = {};
  for (let i = 0; i < count; i++) {
    const response = await fetch(base + '/api/rank', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ member: memberOf(), count: 10 }), signal: AbortSignal.timeout(10_000),
    }).catch(error => ({ ok: false, status: String(error?.name ?? error) }));
    if (!response.ok) {
      reasons[`HTTP ${response.status}`] = (reasons[`HTTP ${response.status}`] ?? 0) + 1;
      continue;
    }
    const body = await response.json();
    if (body.fallback === true) {
      const reason = body.fallbackReason ?? 'unknown';
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    } else {
      model++;
    }
  }
  return { model, count, reasons };
}

// ---- the report ---------------------------------------------------------------------------------

const fmt = (v, digits = 1) => v === null || v === undefined || Number.isNaN(v) ? 'n/a'
  : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : String(v);
const ratio = (a, b) => a === null || b === null || a === undefined || b === undefined || b === 0 ? null : a / b;
const verdict = ok => ok === null ? 'info' : ok ? 'pass' : 'MISS';

function figures(o, report) {
  const rows = [];
  const add = (figure, measured, unit, target, baseline, ok, digits = 1) =>
    rows.push({ figure, measured, unit, target, ratioToBaseline: baseline, verdict: verdict(ok), text: measured === null || measured === undefined ? 'n/a' : `${fmt(measured, digits)}${unit ? ' ' + unit : ''}` });

  for (const stage of report.ramp) {
    const { rank, health } = stage;
    const c = `rank, ${rank.connections} connection${rank.connections === 1 ? '' : 's'}`;
    add(`${c}: throughput`, rank.requestsPerSecond, 'req/s', '', ratio(rank.requestsPerSecond, health.requestsPerSecond), null, 0);
    add(`${c}: p50`, rank.p50, 'ms', '', ratio(rank.p50, health.p50), null, 2);
    add(`${c}: p99`, rank.p99, 'ms', '', ratio(rank.p99, health.p99), null, 2);
    add(`${c}: max`, rank.max, 'ms', '', ratio(rank.max, health.max), null, 1);
    add(`${c}: errors + non-2xx`, rank.errors + rank.non2xx, '', '', null, null, 0);
    add(`${c}: Substitute (fallback) answers`, rank.fallbackShare === null ? null : rank.fallbackShare * 100, '%', '', null, null, 2);
  }

  const s = report.sustained.rank;
  const h = report.sustained.health;
  const sustained = `sustained ${fmt(o.rate, 0)} req/s for ${fmt(o.duration, 0)} s`;
  add(`${sustained}: throughput`, s.requestsPerSecond, 'req/s', `>= ${fmt(o.rate * 0.99, 0)} (99% of the rate)`, ratio(s.requestsPerSecond, h.requestsPerSecond), s.requestsPerSecond >= o.rate * 0.99, 0);
  add(`${sustained}: errors + timeouts + non-2xx`, s.errors + s.non2xx, '', '0', null, s.errors + s.non2xx === 0, 0);
  add(`${sustained}: Substitute (fallback) answers`, s.fallbackShare === null ? null : s.fallbackShare * 100, '%', '<= 1%', null, s.fallbackShare !== null && s.fallbackShare <= 0.01, 2);
  add(`${sustained}: p50`, s.p50, 'ms', '', ratio(s.p50, h.p50), null, 2);
  add(`${sustained}: p99 of the requests sent`, s.p99, 'ms', '', ratio(s.p99, h.p99), null, 2);
  add(`${sustained}: p99 corrected for coordinated omission`, s.p99co, 'ms', '<= 50 ms', ratio(s.p99co, h.p99co), s.p99co !== null && s.p99co <= 50, 2);
  add(`${sustained}: max`, s.max, 'ms', '', ratio(s.max, h.max), null, 1);

  const r = report.recovery;
  add('feature-log lag at the end of the load', r.first.lag, 'events', '', null, null, 0);
  add('feature-log lag back to 0 after the load', r.caughtUp ? r.seconds : null, 's', '<= 30 s', null, r.caughtUp && r.seconds <= 30, 1);
  if (!r.caughtUp) rows.at(-1).text = `not within ${fmt(o.recoveryTimeout, 0)} s (lag ${fmt(r.last.lag, 0)})`;
  add('feature-log pending in the buffer after recovery', r.last.pending, 'events', '', null, null, 0);
  add('feature-log requests dropped (since start)', r.last.dropped, '', '', null, null, 0);
  add('health: healthy after recovery', r.last.healthy, '', '', null, null);
  add('health: problems after recovery (its window is the last minute, load included)', r.last.problems || 'none', '', '', null, null);
  const q = report.sequential;
  add(`sequential rank requests answered by the model`, q.model, `of ${q.count}`, `${q.count} of ${q.count}`, null, q.model === q.count, 0);

  const m = report.memory;
  add('host VmRSS after the replay, before the load', m.before.rssMb, 'MB', '', null, null, 0);
  add('host VmHWM before the load (peak of the replay and training)', m.before.hwmMb, 'MB', '', null, null, 0);
  add('host VmRSS peak during the load and recovery (sampled each second)', m.peakRssDuringLoad, 'MB', '', ratio(m.peakRssDuringLoad, m.before.rssMb), null, 0);
  add('host VmRSS after recovery', m.after.rssMb, 'MB', '', ratio(m.after.rssMb, m.before.rssMb), null, 0);
  add('host VmHWM at the end (peak since start)', m.after.hwmMb, 'MB', 'bounded (report)', ratio(m.after.hwmMb, m.before.hwmMb), null, 0);
  return rows;
}

function table(rows) {
  const header = ['figure', 'measured', 'target', 'ratio to baseline', 'pass/miss'];
  const cells = rows.map(r => [r.figure, r.text, r.target || '-', r.ratioToBaseline === null ? '-' : fmt(r.ratioToBaseline, 2), r.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map(c => c[i].length)));
  const line = c => '| ' + c.map((v, i) => v.padEnd(widths[i])).join(' | ') + ' |';
  return [line(header), '|' + widths.map(w => '-'.repeat(w + 2)).join('|') + '|', ...cells.map(line)].join('\n');
}

function baselineLines(report) {
  const lines = ['Baselines (GET /api/health, the HTTP floor, same run):'];
  for (const { health } of report.ramp) {
    lines.push(`  ${health.connections} connection(s): ${fmt(health.requestsPerSecond, 0)} req/s, p50 ${fmt(health.p50, 2)} ms, p99 ${fmt(health.p99, 2)} ms, max ${fmt(health.max, 1)} ms, errors + non-2xx ${health.errors + health.non2xx}`);
  }
  const h = report.sustained.health;
  lines.push(`  ${fmt(h.rate, 0)} req/s over ${h.connections} connections (${h.slices} staggered instances): ${fmt(h.requestsPerSecond, 0)} req/s, p50 ${fmt(h.p50, 2)} ms, p99 ${fmt(h.p99, 2)} ms (corrected for coordinated omission ${fmt(h.p99co, 2)} ms), max ${fmt(h.max, 1)} ms, errors + non-2xx ${h.errors + h.non2xx}`);
  return lines.join('\n');
}

// ---- main ---------------------------------------------------------------------------------------

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(error.message);
    return 2;
  }
  if (!existsSync(o.host)) {
    console.error(`the local host is not built: ${o.host} (run scripts/load.sh, which builds it)`);
    return 2;
  }
  mkdirSync(o.out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const hostLog = path.join(o.out, `load-${stamp}-host.log`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const members = random(o.seed);
  const memberOf = () => String(1 + Math.floor(members() * o.members));

  log(`starting the local host on ${base} (replay of ${o.maxRatings ? fmt(o.maxRatings, 0) + ' ratings' : 'all of MovieLens'}; log: ${path.relative(root, hostLog)})`);
  const started = performance.now();
  const host = startHost(o, port, hostLog);
  let stopping = false;
  const interrupt = () => { if (!stopping) { stopping = true; log('interrupted: stopping the host'); stopHost(host).then(() => process.exit(2)); } };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the host's replay did not finish within ${o.readyTimeout} s; see ${hostLog}`)), o.readyTimeout * 1000);
    });
    try {
      await Promise.race([host.ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
    const replaySeconds = (performance.now() - started) / 1000;
    log(`the host is serving after its replay (${fmt(replaySeconds, 1)} s after start)`);

    const report = {
      startedAt: new Date().toISOString(), options: { ...o, host: path.relative(root, o.host), out: path.relative(root, o.out) },
      hostPid: host.child.pid, replaySeconds, ramp: [], sustained: null, recovery: null, sequential: null, memory: null,
    };
    const before = memory(host.child.pid);
    const sampler = memorySampler(host.child.pid);

    for (const c of o.stages) {
      log(`ramp: GET /api/health at ${c} connection(s) for ${o.baselineSeconds} s (baseline), then POST /api/rank for ${o.stageSeconds} s`);
      const health = await run(base, { route: '/api/health', connections: c, seconds: o.baselineSeconds });
      const rank = await run(base, { route: '/api/rank', method: 'POST', connections: c, seconds: o.stageSeconds, memberOf });
      log(`  rank: ${fmt(rank.requestsPerSecond, 0)} req/s, p50 ${fmt(rank.p50, 2)} ms, p99 ${fmt(rank.p99, 2)} ms, Substitute ${fmt((rank.fallbackShare ?? NaN) * 100, 2)}%; health: ${fmt(health.requestsPerSecond, 0)} req/s, p99 ${fmt(health.p99, 2)} ms`);
      report.ramp.push({ connections: c, health, rank });
    }

    log(`sustained: GET /api/health at ${o.rate} req/s for ${o.baselineSeconds} s (baseline), then POST /api/rank at ${o.rate} req/s for ${o.duration} s (${o.slices} staggered autocannon instances, ${o.connections} connections in all)`);
    const health = await run(base, { route: '/api/health', connections: o.connections, seconds: o.baselineSeconds, rate: o.rate, slices: o.slices });
    const rank = await run(base, { route: '/api/rank', method: 'POST', connections: o.connections, seconds: o.duration, rate: o.rate, slices: o.slices, memberOf });
    report.sustained = { health, rank };
    log(`  rank: ${fmt(rank.requestsPerSecond, 0)} req/s, p99 ${fmt(rank.p99, 2)} ms (corrected ${fmt(rank.p99co, 2)} ms), errors + non-2xx ${rank.errors + rank.non2xx}, Substitute ${fmt((rank.fallbackShare ?? NaN) * 100, 2)}%`);

    log(`recovery: polling /api/health until the feature-log lag is 0 (at most ${o.recoveryTimeout} s)`);
    report.recovery = await recovery(base, o.recoveryTimeout);
    log(`  lag ${report.recovery.first.lag} -> ${report.recovery.last.lag} in ${fmt(report.recovery.seconds, 1)} s (${report.recovery.last.source})`);
    report.sequential = await sequential(base, o.sequential, memberOf);
    log(`  ${report.sequential.model} of ${report.sequential.count} sequential requests answered by the model`);
    report.memory = { before, peakRssDuringLoad: sampler.stop(), after: memory(host.child.pid) };

    report.figures = figures(o, report);
    const text = [
      `Load test ${report.startedAt}: ${o.maxRatings ? fmt(o.maxRatings, 0) + ' ratings' : 'all of MovieLens'}, members 1..${o.members}, host pid ${report.hostPid}, replay ${fmt(replaySeconds, 1)} s`,
      baselineLines(report),
      `Feature-log lag read from: ${report.recovery.last.source}`,
      '',
      table(report.figures),
      '',
      'ratio to baseline: a rank figure over the same figure of GET /api/health at the same concurrency or rate, measured in this run;',
      'a memory figure over the same figure before the load. Targets are judged; "info" rows have none.',
    ].join('\n');
    console.log('\n' + text + '\n');
    const file = path.join(o.out, `load-${stamp}`);
    writeFileSync(file + '.json', JSON.stringify(report, null, 2));
    writeFileSync(file + '.md', text + '\n');
    writeFileSync(path.join(o.out, 'load-latest.json'), JSON.stringify(report, null, 2));
    writeFileSync(path.join(o.out, 'load-latest.md'), text + '\n');
    log(`wrote ${path.relative(root, file)}.json and .md (and load-latest.json/.md beside them)`);
    return 0;
  } catch (error) {
    console.error(`load test could not run: ${error?.stack ?? error}`);
    return 2;
  } finally {
    stopping = true;
    log('stopping the host');
    const stopStarted = performance.now();
    await stopHost(host);
    log(`the host stopped (${fmt((performance.now() - stopStarted) / 1000, 1)} s)`);
  }
}

process.exitCode = await main();
