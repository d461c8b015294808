/**
 * The inspector page's script, plain ES2020 for any current browser, kept as a string: no
 * bundler, no framework. It reads the JSON API, follows `/api/live` (EventSource) and re-reads
 * only what a change touched. The selection lives in the URL hash (`#run=<id>`, `#log=<id>`),
 * so a reload or a shared link shows the same thing.
 *
 * Written with `String.raw` and without backticks or dollar-brace, so it reaches the browser
 * exactly as written here. Log contents come from any peer: text goes in through
 * `textContent` only, never `innerHTML`.
 */
export const INSPECTOR_JS = String.raw`'use strict';
(function () {
  var sel = { run: null, log: null };
  var liveCount = 0;
  var changed = new Set();
  var changedRuns = false;
  var timer = null;
  var busy = false;

  function $(id) { return document.getElementById(id); }

  /** Build an element: attrs holds class, text, title, data-* and on* handlers. */
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      var v = attrs[k];
      if (v === undefined || v === null) continue;
      if (k === 'text') el.textContent = String(v);
      else if (k === 'class') el.className = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, String(v));
    }
    if (children) for (var i = 0; i < children.length; i++) {
      var c = children[i];
      if (c === null || c === undefined) continue;
      el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return el;
  }

  var SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, text) {
    var el = document.createElementNS(SVG, tag);
    for (var k in attrs) el.setAttribute(k, String(attrs[k]));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function api(path) {
    return fetch(path, { headers: { accept: 'application/json' } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body && body.error ? body.error.code + ': ' + body.error.message : 'HTTP ' + r.status);
        return body;
      });
    });
  }

  function shortId(id) { return id.length > 28 ? id.slice(0, 14) + '…' + id.slice(-10) : id; }
  function shortDid(did) { return did ? did.slice(0, 16) + '…' + did.slice(-6) : ''; }
  function shortCid(cid) { return cid.slice(0, 6) + '…' + cid.slice(-6); }
  function json(v) {
    if (v === undefined || v === null) return '';
    var t = JSON.stringify(v, null, 1);
    return t.length > 2000 ? t.slice(0, 2000) + '…' : t;
  }
  function pre(v) { var t = json(v); return t === '' ? null : h('pre', { text: t }); }
  function badge(kind, value) { return h('span', { class: 'badge ' + kind + '-' + value, text: value }); }
  function fill(tbody, rows) { tbody.replaceChildren.apply(tbody, rows); }
  function showError(err) { var p = $('error'); p.hidden = !err; p.textContent = err ? String(err.message || err) : ''; }

  // --- selection -------------------------------------------------------------------------

  function readHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    sel.run = p.get('run');
    sel.log = p.get('log') || sel.run;
  }
  function select(kind, id) {
    var p = new URLSearchParams();
    p.set(kind, id);
    location.hash = p.toString();
  }
  window.addEventListener('hashchange', function () { readHash(); refreshSelection(); markSelected(); });

  function markSelected() {
    document.querySelectorAll('#runs tbody tr').forEach(function (tr) { tr.classList.toggle('selected', tr.dataset.run === sel.run); });
    document.querySelectorAll('#logs tbody tr').forEach(function (tr) { tr.classList.toggle('selected', tr.dataset.log === sel.log); });
  }

  // --- lists -----------------------------------------------------------------------------

  function refreshNode() {
    return api('/api/node').then(function (n) {
      $('node').replaceChildren(
        h('span', { text: 'peer ' }), h('code', { text: n.did, title: n.did }),
        h('span', { text: '  ·  ws ' }), h('code', { text: n.addresses.ws }),
        h('span', { text: '  ·  sse ' }), h('code', { text: n.addresses.sse }),
        h('span', { text: '  ·  ' + n.store.kind + ' store ' }), h('code', { text: n.store.path }));
    });
  }

  function refreshRuns() {
    return api('/api/runs').then(function (d) {
      $('runs-total').textContent = '(' + d.total + ')';
      $('runs-empty').hidden = d.runs.length > 0;
      fill($('runs').tBodies[0], d.runs.map(function (r) {
        var w = r.workflow ? r.workflow.id + '@' + r.workflow.version : '?';
        var steps = r.steps.succeeded + '/' + r.steps.total + ' succeeded' + (r.steps.failed ? ', ' + r.steps.failed + ' failed' : '') + (r.kind === 'flowstate' && r.chartValue !== undefined ? ' · state ' + JSON.stringify(r.chartValue) : '');
        return h('tr', { 'data-run': r.id, 'data-status': r.status }, [
          h('td', null, [h('button', { class: 'link run-link mono', text: shortId(r.id), title: r.id, onclick: function () { select('run', r.id); } })]),
          h('td', { text: w + (r.kind === 'flowstate' ? ' (FlowState)' : '') }),
          h('td', null, [badge('status', r.status)]),
          h('td', { text: steps }),
          h('td', { text: r.events }),
        ]);
      }));
      markSelected();
    });
  }

  function refreshLogs() {
    return api('/api/logs').then(function (d) {
      $('logs-total').textContent = '(' + d.total + (d.truncated ? ', first ' + d.logs.length + ' shown' : '') + ')';
      $('logs-empty').hidden = d.logs.length > 0;
      fill($('logs').tBodies[0], d.logs.map(function (l) {
        return h('tr', { 'data-log': l.id, 'data-count': l.count }, [
          h('td', null, [h('button', { class: 'link mono', text: shortId(l.id), title: l.id, onclick: function () { select(l.run ? 'run' : 'log', l.id); } }), l.run ? h('span', { class: 'badge', text: 'run' }) : null]),
          h('td', { class: 'count', text: l.count }),
          h('td', { class: 'mono', text: l.heads.map(shortCid).join(' ') + (l.headCount > l.heads.length ? ' +' + (l.headCount - l.heads.length) : ''), title: l.heads.join('\n') }),
        ]);
      }));
      markSelected();
    });
  }

  function refreshPeers() {
    return api('/api/peers').then(function (d) {
      $('peers-total').textContent = '(' + d.peers.length + ')';
      $('peers-empty').hidden = d.peers.length > 0;
      fill($('peers').tBodies[0], d.peers.map(function (p) {
        return h('tr', { 'data-peer': p.did }, [
          h('td', { class: 'mono', text: shortDid(p.did), title: p.did }),
          h('td', { text: p.transport }), h('td', { text: p.direction }),
          h('td', { class: 'mono', text: p.address }), h('td', { text: p.logs }),
        ]);
      }));
    });
  }

  // --- one run -----------------------------------------------------------------------------

  function claimsList(step) {
    if (!step.decisions.length) return null;
    return h('ul', { class: 'claims' }, step.decisions.map(function (d) {
      return h('li', { 'data-verdict': d.verdict }, [badge('verdict', d.verdict), ' ' + d.kind + ' by ' + (d.byNode || shortDid(d.by)) + ': ' + d.why]);
    }));
  }

  function stepRow(st, compensation) {
    return h('tr', { 'data-step': st.id, 'data-status': st.status, 'data-attempt': st.attempt }, [
      h('td', { class: 'mono', text: (compensation ? 'compensate ' : '') + st.id + (st.ref ? ' (' + st.ref + ')' : '') }),
      h('td', null, [badge('status', st.status)]),
      h('td', { class: 'attempt', text: st.attempt }),
      h('td', { text: st.claimedByNode || (st.claimedBy ? shortDid(st.claimedBy) : '') }),
      h('td', null, [pre(st.input)]),
      // A step keeps its last error after a later attempt succeeds: show both, and say which is which.
      h('td', null, [pre(st.output), st.error ? h('pre', { class: 'error', text: (st.status === 'succeeded' ? 'an earlier attempt: ' : '') + st.error.name + ': ' + st.error.message }) : null]),
      h('td', null, [claimsList(st)]),
    ]);
  }

  function renderRun(r) {
    $('run-title').textContent = r.id;
    var status = $('run-status');
    status.className = 'badge status-' + r.status;
    status.textContent = r.status;
    var items = [
      ['workflow', r.workflow ? r.workflow.id + '@' + r.workflow.version + (r.kind === 'flowstate' ? ' (FlowState)' : '') : '?'],
      ['events', String(r.events) + ' (stable: ' + r.stable.count + ')'],
      ['input', r.input],
    ];
    if (r.chart) items.push(['state', r.chart.value]);
    if (r.output !== null && r.output !== undefined) items.push(['output', r.output]);
    if (r.error) items.push(['error', r.error.step + ': ' + r.error.name + ': ' + r.error.message]);
    if (r.cancel) items.push(['cancelled', r.cancel.reason]);
    if (r.peers.length) items.push(['peers in the run', r.peers.map(function (p) { return p.id + ' (' + p.kind + ')'; }).join(', ')]);
    if (r.signals.length) items.push(['signals', r.signals.map(function (x) { return x.name + (x.consumedBy ? ' → ' + x.consumedBy : ''); }).join(', ')]);
    if (r.warnings.length) items.push(['warnings', r.warnings.map(function (w) { return w.message; }).join('; ')]);
    var dl = $('run-summary');
    dl.replaceChildren();
    items.forEach(function (it) {
      dl.appendChild(h('dt', { text: it[0] }));
      dl.appendChild(h('dd', null, [typeof it[1] === 'string' ? it[1] : pre(it[1])]));
    });
    fill($('run-steps').tBodies[0], r.steps.map(function (st) { return stepRow(st, false); }).concat(r.compensations.map(function (st) { return stepRow(st, true); })));
  }

  function eventData(e) {
    var parts = {};
    ['input', 'output', 'next', 'error', 'signal', 'reason'].forEach(function (k) { if (e[k] !== undefined) parts[k] = e[k]; });
    return Object.keys(parts).length ? pre(parts) : null;
  }

  function renderTimeline(t) {
    $('timeline-count').textContent = '(' + t.count + ' events' + (t.truncated ? ', newest ' + t.events.length + ' shown' : '') + ')';
    var t0 = t.events.length ? t.events[0].time : 0;
    fill($('run-timeline').tBodies[0], t.events.map(function (e) {
      var d = e.decision;
      return h('tr', { 'data-type': e.type, 'data-step': e.step, 'data-cid': e.cid }, [
        h('td', { text: e.index + 1 }),
        h('td', { class: 'mono', text: '+' + ((e.time - t0) / 1000).toFixed(3) + 's' }),
        h('td', { class: 'mono', text: e.type.replace(/^stateflow\./, '') }),
        h('td', { text: e.authorNode || shortDid(e.author), title: e.author }),
        h('td', { class: 'mono', text: e.step || '' }),
        h('td', { text: e.attempt === undefined ? '' : e.attempt }),
        h('td', null, d ? [badge('verdict', d.verdict), ' ' + d.why] : null),
        h('td', null, [eventData(e)]),
      ]);
    }));
  }

  function refreshRun() {
    var id = sel.run;
    $('run-panel').hidden = !id;
    if (!id) return Promise.resolve();
    var q = encodeURIComponent(id);
    return Promise.all([api('/api/runs/' + q), api('/api/runs/' + q + '/timeline')]).then(function (res) {
      if (sel.run !== id) return;
      renderRun(res[0]);
      renderTimeline(res[1]);
    });
  }

  // --- the DAG -----------------------------------------------------------------------------

  function nodeClass(type) {
    if (!type) return 'node';
    if (/failed|timed-out|cancelled/.test(type)) return 'node t-fail';
    if (type.indexOf('stateflow.workflow.') === 0) return 'node t-workflow';
    if (type.indexOf('stateflow.step.') === 0 || type.indexOf('stateflow.timer.') === 0) return 'node t-step';
    if (type.indexOf('xsync.peer.') === 0) return 'node t-peer';
    if (type === 'stateflow.signal') return 'node t-signal';
    return 'node';
  }

  function renderDag(d) {
    $('dag-title').textContent = d.log;
    $('dag-count').textContent = '(' + d.nodes.length + ' of ' + d.count + ' events' + (d.truncated ? ', the newest' : '') + ')';
    var COL = 64, LANE = 56, LEFT = 165, TOP = 28;
    var lanes = new Map();
    d.nodes.forEach(function (n) { if (!lanes.has(n.author)) lanes.set(n.author, lanes.size); });
    var minClock = d.nodes.length ? d.nodes[0].clock : 0;
    var maxClock = minClock;
    d.nodes.forEach(function (n) { if (n.clock < minClock) minClock = n.clock; if (n.clock > maxClock) maxClock = n.clock; });
    // Events of one author at one clock (a fork) stack inside the lane.
    var stack = new Map();
    var pos = new Map();
    d.nodes.forEach(function (n) {
      var key = n.author + '|' + n.clock;
      var k = stack.get(key) || 0;
      stack.set(key, k + 1);
      pos.set(n.cid, { x: LEFT + (n.clock - minClock) * COL, y: TOP + lanes.get(n.author) * LANE + k * 12 });
    });
    var width = LEFT + (maxClock - minClock + 1) * COL + 20;
    var height = TOP + Math.max(1, lanes.size) * LANE + 10;
    var svg = s('svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'DAG of ' + d.log });
    lanes.forEach(function (i, author) { svg.appendChild(s('text', { class: 'lane', x: 4, y: TOP + i * LANE + 4 }, shortDid(author))); });
    d.edges.forEach(function (e) {
      var a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) return;
      svg.appendChild(s('line', { class: 'edge ' + e.kind, x1: a.x, y1: a.y, x2: b.x, y2: b.y }));
    });
    d.nodes.forEach(function (n) {
      var p = pos.get(n.cid);
      var g = s('g', { 'data-cid': n.cid });
      var c = s('circle', { class: nodeClass(n.type), cx: p.x, cy: p.y, r: 7 });
      c.appendChild(s('title', {}, (n.type || '?') + '\nclock ' + n.clock + ', seq ' + n.seq + '\n' + n.cid + '\n' + n.author));
      g.appendChild(c);
      var label = (n.type || '?').replace(/^stateflow\./, '').replace(/^xsync\./, '');
      // Labels alternate below and above the node, so neighbours' labels do not overlap.
      var below = (n.clock - minClock) % 2 === 0;
      g.appendChild(s('text', { class: 'label', x: p.x, y: below ? p.y + 19 : p.y - 12, 'text-anchor': 'middle' }, label.length > 16 ? label.slice(0, 15) + '…' : label));
      svg.appendChild(g);
    });
    $('dag').replaceChildren(svg);
  }

  function refreshDag() {
    var id = sel.log;
    $('dag-panel').hidden = !id;
    if (!id) return Promise.resolve();
    return api('/api/logs/' + encodeURIComponent(id) + '/dag').then(function (d) { if (sel.log === id) renderDag(d); });
  }

  function refreshSelection() { return Promise.all([refreshRun(), refreshDag()]).catch(showError); }

  // --- live --------------------------------------------------------------------------------

  function refreshAll() {
    return Promise.all([refreshNode(), refreshRuns(), refreshLogs(), refreshPeers(), refreshRun(), refreshDag()]).then(function () { showError(null); }, showError);
  }

  /** Re-read what the changes since the last read touched; one read at a time, batched. */
  function flush() {
    timer = null;
    if (busy) { timer = setTimeout(flush, 100); return; }
    var logs = changed, runs = changedRuns;
    changed = new Set();
    changedRuns = false;
    var work = [refreshLogs()];
    if (runs) work.push(refreshRuns());
    if (sel.run && logs.has(sel.run)) work.push(refreshRun());
    if (sel.log && logs.has(sel.log)) work.push(refreshDag());
    busy = true;
    Promise.all(work).then(function () { showError(null); }, showError).then(function () { busy = false; });
  }

  function live() {
    var es = new EventSource('/api/live');
    var status = $('live-status');
    es.addEventListener('hello', function () {
      status.className = 'badge on';
      status.textContent = 'live';
      refreshAll();
    });
    es.addEventListener('log', function (ev) {
      var d = JSON.parse(ev.data);
      liveCount++;
      $('live-count').textContent = String(liveCount);
      changed.add(d.log);
      if (d.run) changedRuns = true;
      if (!timer) timer = setTimeout(flush, 100);
    });
    es.addEventListener('peers', function () { refreshPeers().catch(showError); });
    es.onerror = function () {
      status.className = 'badge off';
      status.textContent = 'reconnecting';
    };
  }

  readHash();
  refreshAll();
  live();
})();
`
