// app.js — the fleet page's behaviour: take the followers view (the JSON of GET followers) from
// the leader's event stream, render it as a table, filter and sort it in the browser. It must
// never put data into the page as HTML (text nodes only: labels and errors come from hosts),
// and never send anything to the leader but GETs of its own origin.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { view: null, sortKey: 'identity', sortDir: 1, filter: '', updates: 0 };

  const text = (v) => (v === null || v === undefined ? '' : String(v));
  const shortHash = (h) => (typeof h === 'string' && h.length > 19 ? h.slice(0, 19) + '…' : text(h));

  function el(tag, cls, content) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined) e.textContent = content;
    return e;
  }

  function identity(f) {
    return text(f.spiffe_id) || `${text(f.fleet_id)}/${text(f.environment)}/${text(f.instance_id)}`;
  }
  function labelsText(f) {
    const l = f.labels && typeof f.labels === 'object' ? f.labels : {};
    return Object.keys(l).sort().map((k) => `${k}=${text(l[k])}`);
  }
  function killText(k) {
    if (!k || typeof k !== 'object') return 'none';
    return `${text(k.state)} #${text(k.counter)}${k.honored === false ? ' (not honored)' : ''}`;
  }
  function errorText(e) {
    if (!e || typeof e !== 'object') return '';
    return `${text(e.code)}: ${text(e.message)}${e.at ? ` (${e.at})` : ''}`;
  }

  // sort keys: numbers sort as numbers, missing values last
  const keys = {
    identity: (f) => identity(f),
    labels: (f) => labelsText(f).join(' '),
    bundle: (f) => (f.active_bundle && typeof f.active_bundle.version === 'number' ? f.active_bundle.version : null),
    lag: (f) => (typeof f.lag === 'number' ? f.lag : null),
    kill: (f) => killText(f.kill),
    policy: (f) => text(f.policy_state),
    seen: (f) => text(f.last_seen),
    error: (f) => errorText(f.last_error),
  };

  function compare(a, b) {
    const ka = keys[state.sortKey](a), kb = keys[state.sortKey](b);
    let r;
    if (ka === null || ka === '') r = kb === null || kb === '' ? 0 : 1;
    else if (kb === null || kb === '') r = -1;
    else if (typeof ka === 'number' && typeof kb === 'number') r = (ka - kb) * state.sortDir;
    else r = String(ka).localeCompare(String(kb)) * state.sortDir;
    return r !== 0 ? r : identity(a).localeCompare(identity(b));
  }

  function row(f) {
    const tr = el('tr');
    tr.dataset.instance = text(f.instance_id);
    if (f.silent) tr.className = 'silent';

    const id = el('td', 'id');
    id.dataset.col = 'identity';
    id.append(el('div', 'inst', text(f.instance_id)), el('div', 'sid', identity(f)));

    const labels = el('td');
    labels.dataset.col = 'labels';
    for (const l of labelsText(f)) labels.append(el('span', 'label', l));

    const bundle = el('td');
    bundle.dataset.col = 'bundle';
    if (f.active_bundle && typeof f.active_bundle === 'object') {
      bundle.append(el('span', 'version', `v${text(f.active_bundle.version)}`), ' ');
      const h = el('span', 'hash', shortHash(f.active_bundle.hash));
      h.title = text(f.active_bundle.hash);
      bundle.append(h);
    } else {
      bundle.textContent = 'none';
    }

    const lag = el('td');
    lag.dataset.col = 'lag';
    if (typeof f.lag === 'number') {
      lag.textContent = f.lag === 0 ? '0 (current)' : f.lag > 0 ? `${f.lag} behind` : `${-f.lag} ahead`;
      if (f.lag !== 0) lag.className = 'lag-behind';
    } else {
      lag.textContent = '–';
    }

    const kill = el('td', f.kill && f.kill.state === 'active' ? 'kill-active' : '', killText(f.kill));
    kill.dataset.col = 'kill';

    const pol = el('td', `state-${text(f.policy_state)}`, text(f.policy_state) || '?');
    pol.dataset.col = 'policy';

    const seen = el('td');
    seen.dataset.col = 'seen';
    seen.append(text(f.last_seen) || 'never');
    if (f.silent) seen.append(el('span', 'badge-silent', 'silent'));

    const err = el('td', f.last_error ? 'err' : '', errorText(f.last_error));
    err.dataset.col = 'error';

    tr.append(id, labels, bundle, lag, kill, pol, seen, err);
    return tr;
  }

  function render() {
    const v = state.view;
    if (!v) return;
    const all = Array.isArray(v.followers) ? v.followers.slice() : [];
    all.sort(compare);
    const tbody = $('rows');
    const rows = [];
    let shown = 0;
    for (const f of all) {
      const tr = row(f);
      const match = !state.filter || tr.textContent.toLowerCase().includes(state.filter);
      tr.hidden = !match;
      if (match) shown += 1;
      rows.push(tr);
    }
    tbody.replaceChildren(...rows);
    $('empty').hidden = all.length !== 0;
    $('count').textContent = state.filter ? `${shown} of ${all.length} shown` : `${all.length} followers`;

    const silent = all.filter((f) => f.silent).length;
    const behind = all.filter((f) => typeof f.lag === 'number' && f.lag !== 0).length;
    const killed = all.filter((f) => f.policy_state === 'killed').length;
    const sum = $('summary');
    sum.replaceChildren(
      el('span', '', `${all.length} followers`),
      el('span', behind ? 'lag-behind' : '', `${behind} not on the active bundle`),
      el('span', silent ? 'lag-behind' : '', `${silent} silent`),
      el('span', killed ? 'err' : '', `${killed} killed`));
    const act = $('active');
    const spans = [];
    const a = v.active && typeof v.active === 'object' ? v.active : {};
    for (const k of Object.keys(a).sort()) {
      const s = el('span');
      s.dataset.stream = k;
      s.append(el('strong', '', k), ` active v${text(a[k].version)} `);
      const h = el('span', 'hash', shortHash(a[k].hash));
      h.title = text(a[k].hash);
      s.append(h);
      if (a[k].rollback_authorization) s.append(` (rollback ${text(a[k].rollback_authorization)})`);
      spans.push(s);
    }
    act.replaceChildren(...spans);
  }

  function take(json) {
    try {
      state.view = JSON.parse(json);
    } catch (e) {
      return;
    }
    state.updates += 1;
    document.body.dataset.updates = String(state.updates);
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    render();
  }

  function setConn(s, label) {
    const c = $('conn');
    c.dataset.state = s;
    c.textContent = label;
  }

  function poll() {
    fetch('/ui/v1/followers', { credentials: 'same-origin', cache: 'no-store' })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(String(r.status)))))
      .then((t) => { setConn('live', 'polling'); take(t); })
      .catch(() => setConn('lost', 'cannot reach the leader'))
      .finally(() => setTimeout(poll, 5000));
  }

  function connect() {
    if (typeof EventSource !== 'function') {
      poll();
      return;
    }
    const es = new EventSource('/ui/v1/events');
    es.addEventListener('followers', (e) => take(e.data));
    es.onopen = () => setConn('live', 'live');
    es.onerror = () => setConn('lost', 'reconnecting…');
  }

  function init() {
    $('filter').addEventListener('input', (e) => {
      state.filter = e.target.value.trim().toLowerCase();
      render();
    });
    for (const th of document.querySelectorAll('#fleet th[data-key]')) {
      th.querySelector('button').addEventListener('click', () => {
        const k = th.dataset.key;
        state.sortDir = state.sortKey === k ? -state.sortDir : 1;
        state.sortKey = k;
        for (const o of document.querySelectorAll('#fleet th[data-key]')) o.removeAttribute('aria-sort');
        th.setAttribute('aria-sort', state.sortDir === 1 ? 'ascending' : 'descending');
        render();
      });
    }
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
