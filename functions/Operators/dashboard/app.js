// The operator dashboard: one page over the app's own HTTP API. No library, no file from elsewhere;
// plots are SVG drawn here. Every value from the API is put in the page as text, never as HTML.
'use strict';

(function () {
  const apiBase = location.pathname.replace(/dashboard\/.*$/, '');
  const key = new URLSearchParams(location.search).get('code');
  const main = document.getElementById('main');
  const notice = document.getElementById('notice');
  const operator = document.getElementById('operator');
  const datasets = ['title-stats', 'similar-titles', 'member-top-n'];
  const svgNs = 'http://www.w3.org/2000/svg';
  let renderToken = 0;
  let featureNames = null;

  class ApiError extends Error {
    constructor(status, title, detail) {
      super(`${status} ${title}: ${detail}`);
      this.status = status;
      this.title = title;
      this.detail = detail;
    }
  }

  // Calls /api/{path}; returns the parsed body. Statuses in `accept` (besides 2xx) count as answers.
  async function api(path, options = {}, accept = []) {
    const headers = { accept: 'application/json' };
    if (key) headers['x-functions-key'] = key;
    const init = { method: options.method || 'GET', headers };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    const response = await fetch(apiBase + path, init);
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = null; }
    if (!response.ok && !accept.includes(response.status)) {
      throw new ApiError(response.status, (body && body.title) || response.statusText || 'Error', (body && body.detail) || text || 'no detail');
    }
    return { status: response.status, body };
  }

  // h('div', {class: 'x'}, 'text', child): elements with text children only.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(svgNs, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const num = (v, digits = 3) => (typeof v === 'number' && isFinite(v)) ? v.toFixed(digits) : (v === null || v === undefined ? '–' : String(v));
  const when = v => v ? new Date(v).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–';
  const badge = (text, cls) => h('span', { class: `badge ${cls || text}` }, text);
  const modelLink = v => v ? h('a', { href: `#model/${encodeURIComponent(v)}` }, v) : '–';
  const empty = text => h('p', { class: 'empty' }, text);
  const card = (...children) => h('section', { class: 'card' }, ...children);
  const float = v => typeof v === 'number' ? v : (v === 'NaN' || v === null ? NaN : Number(v));

  function table(headers, rows, rowAttrs) {
    return h('table', {},
      h('thead', {}, h('tr', {}, headers.map(x => h('th', {}, x)))),
      h('tbody', {}, rows.map((cells, i) => h('tr', rowAttrs ? rowAttrs(i) : {}, cells.map(c => h('td', c && c.num ? { class: 'num' } : {}, c && c.num ? c.text : c))))));
  }
  const n = text => ({ num: true, text });

  function say(text, isError) {
    notice.textContent = text;
    notice.className = isError ? 'error' : '';
  }

  function message(box, text, ok) {
    box.append(h('div', { class: `message ${ok ? 'ok' : 'error'}` }, text));
  }

  // Who decides is the person the app authenticated (App Service authentication; on the local host its
  // development identity), never a typed name: the page shows the name the app's answers give.
  function signedIn(name) {
    if (!name) return;
    operator.textContent = name;
    operator.classList.add('known');
  }

  // ---- sections -------------------------------------------------------------------------------------

  async function renderModels(root) {
    const { body } = await api('models');
    const list = body.versions || [];
    const head = card(h('h2', {}, 'Models'));
    if (list.length === 0) {
      head.append(empty('No model is registered yet: nothing has been trained. The Substitute (popularity) answers every rank request.'));
      root.append(head);
      return;
    }
    head.append(h('dl', { class: 'kv' },
      h('dt', {}, 'Live'), h('dd', { id: 'live-version' }, body.live ? modelLink(body.live) : 'none'),
      h('dt', {}, 'Previous'), h('dd', {}, body.previous ? modelLink(body.previous) : 'none')));
    const box = h('div', {});
    if (body.live && body.previous) {
      const reason = h('input', { placeholder: 'reason (optional)', maxlength: 1000, id: 'rollback-reason' });
      head.append(h('form', {
        class: 'inline', onsubmit: async e => {
          e.preventDefault();
          try {
            const r = await api('models/rollback', { method: 'POST', body: { reason: reason.value || null, expectedLive: body.live } });
            await route();
            say(`Rolled back: ${r.body.to} is live again (${r.body.reason}; serving instances load it at their next poll, or at POST /api/models/refresh).`);
          } catch (err) {
            message(box, err.message, false);
          }
        },
      }, h('button', { type: 'submit', class: 'danger', id: 'rollback' }, `Roll back to ${body.previous}`), reason));
    }
    head.append(box);
    root.append(head);
    root.append(card(h('h3', {}, 'Versions'), table(
      ['Version', 'Status', 'Trainer', 'Sentinel', 'AUC', 'Created', 'Status since', 'Reason'],
      list.map(v => [
        modelLink(v.version),
        [badge(v.status), v.isLive ? ' live' : '', v.isPrevious ? ' previous' : ''],
        v.trainer || '–',
        v.sentinelPassed === true ? badge('passed') : v.sentinelPassed === false ? badge('failed') : '–',
        n(num(v.auc)), when(v.createdAt), when(v.statusChangedAt), v.statusReason || '']),
      i => ({ 'data-version': list[i].version }))));
  }

  async function features() {
    if (featureNames) return featureNames;
    try { featureNames = (await api('features')).body.names || []; } catch { featureNames = []; }
    return featureNames;
  }

  async function renderModel(root, version) {
    const r = await api(`models/${encodeURIComponent(version)}`, {}, [404]);
    if (r.status === 404) {
      root.append(card(h('h2', {}, `Model ${version}`), empty(`Model version ${version} is not registered.`)));
      return;
    }
    const { record, history, sentinel, isLive } = r.body;
    const status = record.status;
    root.append(card(
      h('h2', {}, `Model ${record.version} `, badge(status), isLive ? ' (live)' : ''),
      h('dl', { class: 'kv' },
        h('dt', {}, 'Trainer'), h('dd', {}, record.trainer || '–'),
        h('dt', {}, 'Trained on'), h('dd', {}, `${when(record.trainedFrom)} → ${when(record.trainedTo)} (${record.exampleCount} examples)`),
        h('dt', {}, 'Feature config'), h('dd', {}, h('code', {}, record.featureConfigHash), ` · ${record.featureCount} features`),
        h('dt', {}, 'Metrics'), h('dd', {}, Object.entries(record.metrics || {}).map(([k, v]) => `${k} ${num(v)}`).join(' · ') || '–'),
        h('dt', {}, 'Status reason'), h('dd', {}, record.statusReason || '–'))));

    const report = card(h('h3', {}, 'Sentinel report'));
    if (!sentinel) {
      report.append(empty('No Sentinel report is stored for this version (the pipeline\'s validation step stores one).'));
    } else {
      const failed = sentinel.checks.filter(c => !c.passed);
      report.append(h('p', { id: 'sentinel-verdict' }, failed.length === 0
        ? [badge('passed'), ` every check passed (${sentinel.checks.filter(c => c.skipped).length} skipped)`]
        : [badge('failed'), ` failed: ${failed.map(c => c.name).join(', ')}`]));
      report.append(table(['Check', 'Verdict', 'Measured', 'Threshold', 'Why'],
        sentinel.checks.map(c => [h('strong', {}, c.name), badge(c.skipped ? 'skipped' : c.passed ? 'passed' : 'failed'), c.measured, c.threshold, c.explanation || '']),
        i => ({ class: sentinel.checks[i].passed ? '' : 'failed', 'data-check': sentinel.checks[i].name })));
      const plots = h('div', { class: 'plots' });
      const byName = Object.fromEntries(sentinel.checks.map(c => [c.name, c]));
      if (byName['calibration'] && byName['calibration'].plot) plots.append(reliabilityCurve(byName['calibration']));
      if (byName['feature-drift'] && byName['feature-drift'].plot) plots.append(psiBars(byName['feature-drift'], await features()));
      if (byName['shadow-accuracy'] && byName['shadow-accuracy'].plot) plots.append(shadowMetrics(byName['shadow-accuracy']));
      if (plots.childElementCount > 0) report.append(h('h3', {}, 'Plots'), plots);
      else report.append(empty('No plot data: the calibration, drift and shadow checks were skipped.'));
    }
    root.append(report);
    root.append(card(h('h3', {}, 'Status history'), (history || []).length === 0 ? empty('No status changes recorded.') : table(
      ['At', 'Status', 'By', 'Reason'], history.map(c => [when(c.at), badge(c.status), c.by || '–', c.reason || '']))));
  }

  // ---- plots ----------------------------------------------------------------------------------------

  function frame(width, height, title, id) {
    const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title });
    return { svg, fig: h('figure', { id }, h('figcaption', {}, title), svg) };
  }

  function reliabilityCurve(check) {
    const p = check.plot;
    const x = (p.meanPredicted || []).map(float), y = (p.observedRate || []).map(float), count = (p.count || []).map(float);
    const W = 320, H = 280, L = 40, B = 36, T = 10, R = 10;
    const { svg, fig } = frame(W, H, 'Reliability curve (calibration)', 'plot-reliability');
    const sx = v => L + v * (W - L - R), sy = v => H - B - v * (H - B - T);
    for (let t = 0; t <= 1.0001; t += 0.25) {
      svg.append(s('line', { class: 'grid', x1: sx(0), x2: sx(1), y1: sy(t), y2: sy(t) }), s('text', { x: 4, y: sy(t) + 4 }, t.toFixed(2)));
      svg.append(s('line', { class: 'grid', y1: sy(0), y2: sy(1), x1: sx(t), x2: sx(t) }), s('text', { x: sx(t) - 10, y: H - B + 14 }, t.toFixed(2)));
    }
    svg.append(s('line', { class: 'ideal', x1: sx(0), y1: sy(0), x2: sx(1), y2: sy(1) }));
    const pts = x.map((v, i) => [v, y[i], count[i]]).filter(([a, b]) => isFinite(a) && isFinite(b));
    if (pts.length > 1) svg.append(s('polyline', { class: 'curve', points: pts.map(([a, b]) => `${sx(a)},${sy(b)}`).join(' ') }));
    for (const [a, b, c] of pts) svg.append(s('circle', { class: 'dot', cx: sx(a), cy: sy(b), r: 3.5 }, s('title', {}, `predicted ${num(a)}, observed ${num(b)}, ${c} impressions`)));
    svg.append(s('text', { x: L + 60, y: H - 4 }, 'mean predicted → observed like rate'));
    fig.append(h('p', { class: 'muted' }, `${check.measured}`));
    return fig;
  }

  function psiBars(check, names) {
    const psi = (check.plot.psi || []).map(float);
    const limitMatch = /([0-9.]+)/.exec(check.threshold || '');
    const floor = limitMatch ? Number(limitMatch[1]) : 0.2;
    // Each feature's own limit (member features count members, others requests) and whether it was judged.
    const limits = psi.map((_, i) => check.plot.limit && isFinite(float(check.plot.limit[i])) ? float(check.plot.limit[i]) : floor);
    const judged = psi.map((_, i) => !check.plot.judged || float(check.plot.judged[i]) > 0);
    const rowH = 18, L = 200, R = 60, W = 560, T = 6;
    const H = T + psi.length * rowH + 24;
    const { svg, fig } = frame(W, H, 'PSI per feature (feature drift)', 'plot-psi');
    const max = Math.max(...limits.map(l => l * 1.2), ...psi.filter(isFinite));
    const sx = v => L + (isFinite(v) ? v : 0) / max * (W - L - R);
    psi.forEach((v, i) => {
      const y = T + i * rowH;
      const name = names[i] || `feature ${i}`;
      const cls = !judged[i] ? 'bar unjudged' : v > limits[i] ? 'bar over' : 'bar';
      const note = judged[i] ? `limit ${num(limits[i])}` : `not judged (too few members), limit ${num(limits[i])}`;
      svg.append(s('text', { x: L - 6, y: y + 12, 'text-anchor': 'end' }, name));
      svg.append(s('rect', { class: cls, x: L, y: y + 2, width: Math.max(1, sx(v) - L), height: rowH - 5 }, s('title', {}, `${name}: PSI ${num(v)}, ${note}`)));
      svg.append(s('line', { class: 'limit', x1: sx(limits[i]), x2: sx(limits[i]), y1: y + 1, y2: y + rowH - 2 }));
      svg.append(s('text', { x: sx(v) + 4, y: y + 12 }, num(v)));
    });
    svg.append(s('text', { x: L, y: H - 6 }, judged.every(j => j) ? 'dashed: each feature\'s limit' : 'dashed: each feature\'s limit; grey: not judged'));
    return fig;
  }

  function shadowMetrics(check) {
    const p = check.plot;
    const metrics = (check.measured || '').split('; ').map(part => part.split(' ')[0]);
    const cand = (p.candidate || []).map(float), live = (p.live || []).map(float), lo = (p.lower || []).map(float), hi = (p.upper || []).map(float);
    const panel = 200, W = 20 + cand.length * panel, H = 230, T = 24, B = 44;
    const { svg, fig } = frame(W, H, 'Shadow metrics: candidate vs live on the same logged impressions; paired difference with its 95% interval', 'plot-shadow');
    cand.forEach((c, i) => {
      const x0 = 10 + i * panel;
      const l = live[i];
      const top = Math.max(c, l, 1e-9) * 1.15;
      const sy = v => H - B - (isFinite(v) ? v : 0) / top * (H - B - T);
      svg.append(s('text', { x: x0, y: 14 }, metrics[i] || `metric ${i}`));
      svg.append(s('rect', { class: 'candidate', x: x0, y: sy(c), width: 34, height: H - B - sy(c) }, s('title', {}, `candidate ${num(c)}`)));
      svg.append(s('rect', { class: 'live', x: x0 + 40, y: sy(l), width: 34, height: H - B - sy(l) }, s('title', {}, `live ${num(l)}`)));
      svg.append(s('text', { x: x0, y: H - B + 14 }, `cand ${num(c)}`), s('text', { x: x0 + 40, y: H - B + 28 }, `live ${num(l)}`));
      // The paired difference (candidate - live) with its interval, on its own scale around zero.
      const span = Math.max(Math.abs(lo[i]), Math.abs(hi[i]), Math.abs(c - l), 1e-6) * 1.15;
      const mid = (T + H - B) / 2, half = (H - B - T) / 2;
      const dy = v => mid - (isFinite(v) ? v : 0) / span * half;
      const ax = x0 + 130;
      svg.append(s('line', { class: 'axis', x1: ax, x2: ax, y1: T, y2: H - B }));
      svg.append(s('line', { class: 'grid', x1: ax - 25, x2: ax + 25, y1: mid, y2: mid }), s('text', { x: ax + 28, y: mid + 4 }, '0'));
      svg.append(s('line', { class: 'interval ci', x1: ax, x2: ax, y1: dy(lo[i]), y2: dy(hi[i]) }, s('title', {}, `difference ${num(c - l, 4)} [${num(lo[i], 4)}, ${num(hi[i], 4)}]`)));
      svg.append(s('line', { class: 'interval', x1: ax - 6, x2: ax + 6, y1: dy(lo[i]), y2: dy(lo[i]) }), s('line', { class: 'interval', x1: ax - 6, x2: ax + 6, y1: dy(hi[i]), y2: dy(hi[i]) }));
      svg.append(s('circle', { class: 'dot', cx: ax, cy: dy(c - l), r: 4 }));
      svg.append(s('text', { x: ax - 20, y: H - B + 14 }, `diff ${num(c - l)}`), s('text', { x: ax - 38, y: H - B + 28 }, `[${num(lo[i])}, ${num(hi[i])}]`));
    });
    fig.append(h('p', { class: 'muted' }, check.explanation || ''));
    return fig;
  }

  // ---- pipelines ------------------------------------------------------------------------------------

  async function renderPipelines(root) {
    const [waiting, running, completed, failed] = await Promise.all(
      ['awaiting-approval', 'running', 'completed', 'failed'].map(st => api(`pipelines?status=${st}`).then(r => r.body.pipelines || [])));
    const start = card(h('h2', {}, 'Pipelines'));
    const startBox = h('div', {});
    start.append(h('form', {
      class: 'inline', onsubmit: async e => {
        e.preventDefault();
        try {
          const r = await api('pipelines/train', { method: 'POST', body: { fromLoggedFeatures: e.target.logged.checked } });
          await route();
          say(`Started pipeline ${r.body.id}: it trains, then the Sentinel validates the candidate.`);
        } catch (err) { message(startBox, err.message, false); }
      },
    }, h('button', { type: 'submit' }, 'Start a training pipeline'), h('label', {}, h('input', { type: 'checkbox', name: 'logged' }), ' on logged features')), startBox);
    root.append(start);

    const gate = card(h('h3', {}, 'Awaiting approval'));
    if (waiting.length === 0) gate.append(empty('No pipeline awaits approval.'));
    for (const p of waiting) gate.append(approvalForm(p));
    root.append(gate);

    const active = running.filter(p => p.stage !== 'awaiting-approval');
    root.append(card(h('h3', {}, 'Running'), active.length === 0 ? empty('No pipeline is running.') : table(
      ['Pipeline', 'Status', 'Stage', 'Candidate', 'Started'],
      active.map(p => [h('code', {}, p.id), p.status, badge(p.stage || 'starting', p.stage), modelLink(p.version), when(p.createdAt)]))));

    const finished = completed.concat(failed).sort((a, b) => (b.createdAt || '').localeCompare(a.createdAt || ''));
    root.append(card(h('h3', {}, 'Finished'), finished.length === 0 ? empty('No pipeline has finished yet.') : table(
      ['Pipeline', 'Status', 'Outcome', 'Candidate', 'Started', 'Reason'],
      finished.map(p => [h('code', {}, p.id), badge(p.status), p.outcome || '–', modelLink(p.version), when(p.createdAt), p.reason || p.failure || '']),
      i => ({ 'data-pipeline': finished[i].id }))));
  }

  function approvalForm(p) {
    const box = h('div', { class: 'messages' });
    const reason = h('input', { placeholder: 'reason', maxlength: 1000, name: 'reason' });
    const decide = approve => async () => {
      try {
        const r = await api(`pipelines/train/${encodeURIComponent(p.id)}/approval`, { method: 'POST', body: { approve, reason: reason.value || null } });
        signedIn(r.body.by);
        message(box, `${r.status}: ${approve ? 'approval' : 'rejection'} of ${p.version} recorded for ${r.body.by}.`, true);
        follow(p.id, box);
      } catch (err) {
        message(box, err.message, false);
      }
    };
    return h('div', { class: 'pipeline', 'data-pipeline': p.id },
      h('dl', { class: 'kv' },
        h('dt', {}, 'Pipeline'), h('dd', {}, h('code', {}, p.id)),
        h('dt', {}, 'Candidate'), h('dd', {}, modelLink(p.version), ' (open its Sentinel report before deciding)'),
        h('dt', {}, 'Sentinel'), h('dd', {}, p.validation || '–'),
        h('dt', {}, 'Deadline'), h('dd', {}, when(p.approvalDeadline), ' · ', h('span', { class: 'countdown', 'data-deadline': p.approvalDeadline }, countdown(p.approvalDeadline)))),
      h('div', { class: 'inline' },
        h('button', { class: 'primary approve', type: 'button', onclick: decide(true) }, 'Approve and publish'),
        h('button', { class: 'danger reject', type: 'button', onclick: decide(false) }, 'Reject'),
        reason),
      box);
  }

  // After a decision: polls the pipeline until it ends and says how.
  async function follow(id, box) {
    for (let i = 0; i < 600; i++) {
      await new Promise(r => setTimeout(r, 1000));
      let r;
      try { r = await api(`pipelines/train/${encodeURIComponent(id)}`); } catch { continue; }
      if (r.body.status === 'Running' || r.body.status === 'Pending') continue;
      const result = r.body.result;
      message(box, result ? `Pipeline ${id} ended: ${result.outcome} ${result.version} (${result.reason}).` : `Pipeline ${id} ended: ${r.body.status} ${r.body.failure || ''}`, result && result.outcome === 'Published');
      return;
    }
  }

  function countdown(deadline) {
    if (!deadline) return '';
    let left = Math.floor((new Date(deadline) - Date.now()) / 1000);
    if (left <= 0) return 'deadline passed';
    const d = Math.floor(left / 86400); left -= d * 86400;
    const hh = Math.floor(left / 3600); left -= hh * 3600;
    const mm = Math.floor(left / 60); const ss = left - mm * 60;
    return `${d > 0 ? d + 'd ' : ''}${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')} left`;
  }

  setInterval(() => {
    for (const el of document.querySelectorAll('.countdown[data-deadline]')) {
      el.textContent = countdown(el.getAttribute('data-deadline'));
      el.classList.toggle('expired', el.textContent === 'deadline passed');
    }
  }, 1000);

  // ---- alerts, serving, archive, precompute ---------------------------------------------------------

  async function renderAlerts(root) {
    const { body } = await api('alerts?limit=100');
    const list = body.alerts || [];
    root.append(card(h('h2', {}, 'Alerts'), list.length === 0 ? empty('No alerts: the Sentinel has refused nothing.') : table(
      ['At', 'Kind', 'Version', 'Check', 'Detail', 'Source'],
      list.map(a => [when(a.at), badge(a.kind, 'failed'), modelLink(a.version), a.check || '–', a.detail, a.source]))));
  }

  async function renderServing(root) {
    // 503 is an answer here: the instance says it is not healthy, and why.
    const { body } = await api('health', {}, [503]);
    const f = body.featureLog || {}, sv = body.serving || {};
    root.append(card(h('h2', {}, 'Serving ', badge(body.healthy ? 'healthy' : 'unhealthy', body.healthy ? 'passed' : 'failed')),
      (body.problems || []).length === 0 ? h('p', {}, 'No problems.') : h('ul', { id: 'health-problems' }, body.problems.map(p => h('li', {}, p))),
      h('dl', { class: 'kv' },
        h('dt', {}, 'Model'), h('dd', {}, body.model ? modelLink(body.model) : 'none loaded'),
        h('dt', {}, 'Data watermark'), h('dd', {}, when(body.dataWatermark)),
        h('dt', {}, 'Requests (last minute)'), h('dd', {}, `${sv.requests ?? 0}, ${sv.substitute ?? 0} by the Substitute (${num(sv.substituteShare)})`),
        h('dt', {}, 'History read p99'), h('dd', {}, sv.historyReadP99Ms == null ? '–' : `${num(sv.historyReadP99Ms, 2)} ms`))));
    root.append(card(h('h3', {}, 'Feature log (the Lumberjack)'), table(
      ['Published', 'Dropped', 'Dropped last minute', 'Pending', 'Publish retries', 'Lag (events)', 'Lag (s)', 'Lag measured'],
      [[n(f.published), n(f.dropped), n(f.droppedLastMinute), n(f.pending), n(f.publishRetries), n(f.lagEvents ?? '–'), n(num(f.lagAgeSeconds, 1)), f.lagMeasured]])));
    const skewBox = h('div', { id: 'skew' });
    root.append(card(h('h3', {}, 'Skew meter'),
      h('p', { class: 'muted' }, 'Recomputes logged feature vectors offline with the Time Machine and counts values that differ from what was served.'),
      h('button', {
        type: 'button', id: 'measure-skew', onclick: async () => {
          skewBox.replaceChildren(h('p', { class: 'muted' }, 'Measuring…'));
          try {
            const r = (await api('timemachine/skew', { method: 'POST', body: { maxRequests: 500 } })).body;
            const skewed = (r.features || []).filter(x => x.mismatches > 0);
            skewBox.replaceChildren(
              h('p', {}, `${r.requestsCompared} of ${r.requestsLogged} logged requests compared, ${r.valuesCompared} values, ${r.mismatches} mismatches.`),
              skewed.length === 0 ? h('p', {}, badge('passed'), ' no feature differs') : table(['Feature', 'Compared', 'Mismatches', 'Largest difference'],
                skewed.map(x => [x.feature, n(x.compared), n(x.mismatches), n(num(x.maxAbsDifference, 6))])));
          } catch (err) { skewBox.replaceChildren(h('div', { class: 'message error' }, err.message)); }
        },
      }, 'Measure skew now (500 requests)'), skewBox));
  }

  async function renderArchive(root, params) {
    const member = params.get('member') || '';
    const asOf = params.get('asOf') || '';
    const form = h('form', {
      class: 'inline', id: 'archive-form', onsubmit: e => {
        e.preventDefault();
        const q = new URLSearchParams({ member: e.target.member.value.trim() });
        if (e.target.asOf.value) q.set('asOf', e.target.asOf.value);
        location.hash = `archive?${q}`;
      },
    }, h('label', {}, 'Member ', h('input', { name: 'member', value: member, required: true, maxlength: 128 })),
      h('label', {}, 'as of (UTC) ', h('input', { name: 'asOf', type: 'datetime-local', step: 1, value: asOf })),
      h('button', { type: 'submit', class: 'primary' }, 'Show history'));
    const c = card(h('h2', {}, 'Archive: a member\'s history as of a time'), form);
    root.append(c);
    if (!member) {
      c.append(empty('Enter a member id (MovieLens userId, e.g. 414) to see what the archive knew about them.'));
      return;
    }
    const q = new URLSearchParams({ limit: '100' });
    if (asOf) q.set('asOf', new Date(asOf + 'Z').toISOString());
    try {
      const { body } = await api(`archive/members/${encodeURIComponent(member)}/history?${q}`);
      const facts = body.facts || [];
      c.append(facts.length === 0 ? empty(`The archive holds no facts for member ${member}${asOf ? ` as of ${asOf}Z` : ''}.`) : table(
        ['Event time', 'Known since', 'Kind', 'Title', 'Value', 'Fact', 'Superseded'],
        facts.map(x => [when(x.eventTime), when(x.ingestTime), x.kind, x.title || '–', n(x.value ?? '–'), h('code', {}, x.id), x.supersededBy ? `by ${x.supersededBy}` : '']),
        () => ({ class: 'fact' })));
    } catch (err) {
      c.append(h('div', { class: 'message error' }, err.message));
    }
  }

  async function renderPrecompute(root) {
    const c = card(h('h2', {}, 'Precomputed versions (the Hulk)'));
    root.append(c);
    const all = await Promise.all(datasets.map(d => api(`precompute/${d}`).then(r => r.body)));
    for (const d of all) {
      const versions = d.versions || [];
      c.append(h('h3', {}, d.dataset, d.current ? [' · current ', h('code', {}, d.current.version || d.current)] : ''));
      c.append(versions.length === 0 ? empty(`No version of ${d.dataset} has been computed yet.`) : table(
        ['Version', 'Status', 'As of', 'Partitions', 'Counts', 'Published', 'Replaced'],
        versions.map(v => [h('code', {}, v.version), v.status, when(v.asOf), n(v.partitions), Object.entries(v.counts || {}).map(([k, x]) => `${k} ${x}`).join(', '), when(v.publishedAt), when(v.replacedAt)])));
    }
  }

  // ---- routing --------------------------------------------------------------------------------------

  async function route() {
    const token = ++renderToken;
    const hash = decodeURIComponent(location.hash.replace(/^#/, '')) || 'models';
    const [path, query] = hash.split('?');
    const section = path.startsWith('model/') ? 'models' : path;
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.section === section);
    const root = h('div', { id: `section-${section}` });
    say('');
    try {
      if (path.startsWith('model/')) await renderModel(root, path.slice('model/'.length));
      else if (path === 'pipelines') await renderPipelines(root);
      else if (path === 'alerts') await renderAlerts(root);
      else if (path === 'serving') await renderServing(root);
      else if (path === 'archive') await renderArchive(root, new URLSearchParams(query || ''));
      else if (path === 'precompute') await renderPrecompute(root);
      else await renderModels(root);
    } catch (err) {
      root.append(h('div', { class: 'message error' }, `Could not load: ${err.message}`));
    }
    if (token === renderToken) {
      main.replaceChildren(root);
      main.setAttribute('data-loaded', section);
    }
  }

  window.addEventListener('hashchange', route);
  route();
})();
