/**
 * The dashboard's script: plain browser JavaScript, no build step, no
 * dependency. Every value from a job reaches the page as text (textContent),
 * never as HTML. (Kept free of backquotes and dollar-brace: it lives in a
 * template string.)
 */
export const APP_JS = String.raw`
(function () {
  'use strict';
  var base = document.body.getAttribute('data-base') || '';
  var main = document.getElementById('main');
  var live = document.getElementById('live');
  var statusBox = document.getElementById('status');
  var STATES = ['available', 'scheduled', 'executing', 'retryable', 'completed', 'discarded', 'cancelled'];
  var ACTION_LABEL = { retry: 'Retry', cancel: 'Cancel', delete: 'Delete' };
  var me = { permissions: { read: true }, readOnly: true, refreshInterval: 2000 };
  var snapshot = null;
  var route = { view: 'queues' };
  var jobsState = { filter: {}, cursors: [], cursor: null, page: null, selected: {} };
  var activityQueue = '';
  var timer = null;

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === undefined || value === null || value === false) return;
        if (key === 'text') el.textContent = value;
        else if (key.slice(0, 2) === 'on') el.addEventListener(key.slice(2), value);
        else if (value === true) el.setAttribute(key, '');
        else el.setAttribute(key, String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      el.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
    });
    return el;
  }

  function api(method, path, body) {
    var init = { method: method, headers: { accept: 'application/json' } };
    if (method !== 'GET' && body === undefined) body = {};
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(base + '/api/' + path, init).then(function (response) {
      return response.text().then(function (text) {
        var data = text ? JSON.parse(text) : null;
        if (!response.ok) {
          var message = data && data.message ? [].concat(data.message).join('; ') : response.status + ' ' + response.statusText;
          throw new Error(message);
        }
        return data;
      });
    });
  }

  function say(message, isError) {
    statusBox.className = 'status' + (isError ? ' error' : '');
    statusBox.textContent = message;
    clearTimeout(say.timer);
    say.timer = setTimeout(function () { statusBox.textContent = ''; }, isError ? 8000 : 4000);
  }

  function can(action) { return !!me.permissions[action]; }

  function fmtTime(iso) {
    if (!iso) return '—';
    var d = new Date(iso);
    return d.toLocaleString();
  }

  function ago(iso) {
    if (!iso) return '—';
    var s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (Math.abs(s) < 60) return s + ' s ago';
    if (Math.abs(s) < 3600) return Math.round(s / 60) + ' min ago';
    return Math.round(s / 3600) + ' h ago';
  }

  function count(n, estimated) {
    if (!n) return h('span', { class: 'zero', text: '0' });
    return h('span', { title: estimated ? 'estimate' : null, text: (estimated ? '≈' : '') + n.toLocaleString() });
  }

  function stateBadge(state) { return h('span', { class: 'state state-' + state, text: state }); }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (key) {
      if (params[key] !== undefined && params[key] !== null && params[key] !== '') {
        parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(params[key]));
      }
    });
    return parts.join('&');
  }

  function parseRoute() {
    var hash = location.hash.replace(/^#\/?/, '');
    var qIndex = hash.indexOf('?');
    var path = qIndex >= 0 ? hash.slice(0, qIndex) : hash;
    var params = {};
    if (qIndex >= 0) {
      hash.slice(qIndex + 1).split('&').forEach(function (pair) {
        if (!pair) return;
        var kv = pair.split('=');
        params[decodeURIComponent(kv[0])] = decodeURIComponent((kv[1] || '').replace(/\+/g, ' '));
      });
    }
    var segments = path.split('/').filter(Boolean);
    if (segments[0] === 'jobs' && segments[1]) return { view: 'job', id: segments[1] };
    if (segments[0] === 'jobs') return { view: 'jobs', params: params };
    if (segments[0] === 'nodes') return { view: 'nodes' };
    if (segments[0] === 'activity') return { view: 'activity' };
    return { view: 'queues' };
  }

  function setView(title, nodes) {
    main.replaceChildren.apply(main, [h('h1', { id: 'view-title', text: title })].concat(nodes));
    document.title = title + ' · Oban dashboard';
  }

  function markNav() {
    var current = route.view === 'job' ? 'jobs' : route.view;
    document.querySelectorAll('[data-nav]').forEach(function (a) {
      if (a.getAttribute('data-nav') === current) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
  }

  function render(focus) {
    markNav();
    var view = route.view;
    if (view === 'queues') renderQueues();
    else if (view === 'nodes') renderNodes();
    else if (view === 'activity') renderActivity();
    else if (view === 'jobs') renderJobs();
    else if (view === 'job') renderJob();
    if (focus) main.focus();
  }

  // ---- Queues
  var limitDrafts = {};
  function renderQueues() {
    if (!snapshot) return setView('Queues', [h('p', { text: 'Loading…' })]);
    var head = h('tr', null, [h('th', { scope: 'col', text: 'Queue' }), h('th', { scope: 'col', text: 'Status' }),
      h('th', { scope: 'col', class: 'num', text: 'Limit' }), h('th', { scope: 'col', text: 'Across nodes' }), h('th', { scope: 'col', class: 'num', text: 'Nodes' })]
      .concat(STATES.map(function (s) { return h('th', { scope: 'col', class: 'num', text: s }); }))
      .concat([h('th', { scope: 'col', text: 'Actions' })]));
    var rows = snapshot.queues.map(function (q) {
      var cells = [h('th', { scope: 'row' }, [h('a', { href: '#/jobs?' + query({ queue: q.name }), text: q.name })]),
        h('td', null, [q.paused ? h('span', { class: 'paused', text: 'paused' }) : h('span', { text: q.paused === null ? 'as configured' : 'running' })]),
        h('td', { class: 'num', text: q.limit === null ? '—' : String(q.limit) }),
        h('td', { class: 'wrap', text: limitsText(q.limits) }),
        h('td', { class: 'num', title: q.nodes.join(', ') || null, text: q.nodes.length ? String(q.nodes.length) : 'none live' })];
      STATES.forEach(function (s) {
        var n = q.counts[s];
        cells.push(h('td', { class: 'num' }, [n ? h('a', { href: '#/jobs?' + query({ queue: q.name, state: s }), 'aria-label': s + ' jobs of ' + q.name }, [count(n, q.estimated && s !== 'executing')]) : count(0)]));
      });
      var actions = h('td', null, [queueActions(q)]);
      cells.push(actions);
      return h('tr', { 'data-queue': q.name }, cells);
    });
    var table = h('table', null, [h('caption', { text: snapshot.estimated ? 'Counts marked ≈ are the planner’s estimates (large table)' : 'Jobs per state' }),
      h('thead', null, [head]), h('tbody', null, rows)]);
    setView('Queues', activityPanels('').concat([h('div', { class: 'scroll panel' }, [rows.length ? table : h('p', { text: 'No queue yet.' })])]));
  }

  // A queue's global/rate limits and partition in a few words ('as configured': not known to this node).
  function limitsText(limits) {
    if (!limits) return 'as configured';
    var parts = [];
    if (limits.globalLimit !== undefined) parts.push('global ' + limits.globalLimit);
    if (limits.rateLimit) parts.push(limits.rateLimit.allowed + ' per ' + limits.rateLimit.period + ' s');
    var p = limits.partition;
    if (p && parts.length) {
      parts.push('per ' + (p.by === 'worker' ? 'worker' : p.args ? p.args.map(function (k) { return 'args.' + k; }).join(', ') : p.meta.map(function (k) { return 'meta.' + k; }).join(', ')));
    }
    return parts.length ? parts.join(' · ') : '—';
  }

  function queueActions(q) {
    var box = h('div', { class: 'inline' });
    var pauseLabel = q.paused ? 'Resume' : 'Pause';
    box.appendChild(h('button', { type: 'button', disabled: !can('pause'), 'aria-label': pauseLabel + ' queue ' + q.name,
      title: can('pause') ? null : 'not allowed', text: pauseLabel,
      onclick: function () { act(api('POST', 'queues/' + encodeURIComponent(q.name) + '/' + (q.paused ? 'resume' : 'pause')), pauseLabel + 'd ' + q.name); } }));
    var inputId = 'scale-' + q.name.replace(/[^A-Za-z0-9_-]/g, '_');
    // A limit being typed survives every re-render (a forced one after another action too) until it is submitted.
    var shown = Object.prototype.hasOwnProperty.call(limitDrafts, q.name) ? limitDrafts[q.name] : q.limit === null ? '' : String(q.limit);
    var input = h('input', { id: inputId, type: 'number', min: '1', step: '1', value: shown, disabled: !can('scale'),
      oninput: function () { limitDrafts[q.name] = input.value; } });
    var form = h('form', { class: 'inline', onsubmit: function (event) {
      event.preventDefault();
      delete limitDrafts[q.name];
      var field = form.querySelector('input'); // the field kept through a redraw (liveRender) may be an earlier one
      act(api('POST', 'queues/' + encodeURIComponent(q.name) + '/scale', { limit: Number(field.value) }), 'Scaled ' + q.name + ' to ' + field.value);
    } }, [h('label', { for: inputId, class: 'sr-only', text: 'Limit' }), input,
      h('button', { type: 'submit', disabled: !can('scale'), 'aria-label': 'Scale queue ' + q.name, text: 'Scale' })]);
    box.appendChild(form);
    return box;
  }

  function act(promise, done) {
    return promise.then(function (result) {
      say(done);
      return refresh(true).then(function () { return result; });
    }, function (error) { say(error.message, true); throw error; });
  }

  // ---- Nodes
  function renderNodes() {
    if (!snapshot) return setView('Nodes', [h('p', { text: 'Loading…' })]);
    var rows = snapshot.nodes.map(function (n) {
      return h('tr', null, [h('th', { scope: 'row', text: n.node + (n.self ? ' (this one)' : '') }),
        h('td', { text: n.leader ? 'leader' : '' }), h('td', { text: ago(n.startedAt), title: fmtTime(n.startedAt) }),
        h('td', { text: ago(n.heartbeatAt), title: fmtTime(n.heartbeatAt) }), h('td', { class: 'wrap', text: n.queues.join(', ') || '—' }),
        h('td', { class: 'num', text: n.processes ? String(n.processes.length) : 'unknown' })]);
    });
    var nodes = h('table', null, [h('caption', { text: 'Live nodes (leader: ' + (snapshot.leader || 'none') + ')' }),
      h('thead', null, [h('tr', null, ['Node', 'Role', 'Started', 'Last heartbeat', 'Queues', 'Worker processes'].map(function (t) { return h('th', { scope: 'col', text: t }); }))]),
      h('tbody', null, rows)]);
    var pools = snapshot.nodes.map(function (n) {
      if (!n.processes) return h('p', { class: 'muted', text: n.node + ': its worker processes are not reported (an older version of nest-oban).' });
      if (!n.processes.length) return h('p', { class: 'muted', text: n.node + ' runs its jobs in its own process (no worker processes).' });
      return h('div', { class: 'scroll panel' }, [h('table', null, [h('caption', { text: 'Worker processes of ' + n.node + (n.self ? ' (this one)' : '') }),
        h('thead', null, [h('tr', null, ['PID', 'Ready', 'Jobs held', 'Memory'].map(function (t) { return h('th', { scope: 'col', text: t }); }))]),
        h('tbody', null, n.processes.map(function (p) {
          return h('tr', null, [h('td', { text: p.pid == null ? '—' : String(p.pid) }), h('td', { text: p.ready ? 'yes' : 'starting' }),
            h('td', { class: 'num', text: String(p.running) }), h('td', { class: 'num', text: p.rss == null ? '—' : Math.round(p.rss / 1048576) + ' MiB' })]);
        }))])]);
    });
    setView('Nodes', [h('div', { class: 'scroll panel' }, [nodes])].concat(pools,
      [h('p', { class: 'muted', text: 'Other nodes report their worker processes every heartbeat interval; this node\'s are read now.' })]));
  }

  // ---- Activity
  function renderActivity() {
    if (!snapshot) return setView('Activity', [h('p', { text: 'Loading…' })]);
    var a = snapshot.activity;
    var names = Object.keys(a.queues).sort();
    var select = h('select', { id: 'activity-queue', onchange: function () { activityQueue = select.value; renderActivity(); } },
      [h('option', { value: '', text: 'All queues' })].concat(names.map(function (n) { return h('option', { value: n, text: n, selected: n === activityQueue }); })));
    var total = function (xs) { return xs.reduce(function (s, v) { return s + v; }, 0); };
    var perQueue = h('table', null, [h('caption', { text: 'Per queue, last hour' }),
      h('thead', null, [h('tr', null, ['Queue', 'Completed', 'Failed', 'Executing now'].map(function (t, i) { return h('th', { scope: 'col', class: i ? 'num' : null, text: t }); }))]),
      h('tbody', null, snapshot.queues.map(function (q) {
        var row = a.queues[q.name] || { completed: [], failed: [] };
        return h('tr', null, [h('th', { scope: 'row', text: q.name }), h('td', { class: 'num', text: total(row.completed).toLocaleString() }),
          h('td', { class: 'num', text: total(row.failed).toLocaleString() }), h('td', { class: 'num', text: String(q.executing) })]);
      }))]);
    setView('Activity', [h('div', { class: 'panel filters' }, [h('label', { for: 'activity-queue', text: 'Queue' }), select])]
      .concat(activityPanels(activityQueue), [h('div', { class: 'scroll panel' }, [perQueue])]));
  }

  /** Cards (last hour, executing now) and the per-minute chart, of one queue or all. */
  function activityPanels(only) {
    var a = snapshot.activity;
    var completed = new Array(a.minutes.length).fill(0);
    var failed = new Array(a.minutes.length).fill(0);
    Object.keys(a.queues).forEach(function (n) {
      if (only && n !== only) return;
      a.queues[n].completed.forEach(function (v, i) { completed[i] += v; });
      a.queues[n].failed.forEach(function (v, i) { failed[i] += v; });
    });
    var sum = function (xs) { return xs.reduce(function (s, v) { return s + v; }, 0); };
    var executing = snapshot.queues.filter(function (q) { return !only || q.name === only; })
      .reduce(function (s, q) { return s + q.executing; }, 0);
    var cards = h('div', { class: 'cards' }, [
      h('div', { class: 'card' }, [h('strong', { text: sum(completed).toLocaleString() }), 'completed in the last hour']),
      h('div', { class: 'card' }, [h('strong', { text: sum(failed).toLocaleString() }), 'failed in the last hour']),
      h('div', { class: 'card' }, [h('strong', { text: executing.toLocaleString() }), 'executing now']),
      h('div', { class: 'card' }, [h('strong', { text: String(snapshot.nodes.length) }), 'live node(s), leader ' + (snapshot.leader || 'none')])]);
    var time = function (i) { return new Date(a.minutes[i]).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); };
    return [cards, h('div', { class: 'panel' }, [chart(a.minutes, completed, failed),
      h('div', { class: 'axis muted' }, [h('span', { text: time(0) }), h('span', { text: time(30) }), h('span', { text: time(59) })]),
      h('div', { class: 'legend' }, [h('span', null, [h('span', { class: 'swatch swatch-ok' }), 'completed']),
        h('span', null, [h('span', { class: 'swatch swatch-bad' }), 'failed']),
        h('span', { class: 'muted', text: 'per minute, last 60 minutes' })])])];
  }

  function chart(minutes, completed, failed) {
    var ns = 'http://www.w3.org/2000/svg';
    var width = 600, height = 160;
    var max = Math.max(1, Math.max.apply(null, completed.map(function (c, i) { return c + failed[i]; })));
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('class', 'chart');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'Jobs per minute: ' + completed.reduce(function (s, v) { return s + v; }, 0) + ' completed, ' +
      failed.reduce(function (s, v) { return s + v; }, 0) + ' failed over the last hour; at most ' + max + ' in a minute');
    var step = width / minutes.length;
    minutes.forEach(function (minute, i) {
      var ch = (completed[i] / max) * height, fh = (failed[i] / max) * height;
      [[ch, height - ch, '#1d7a46', completed[i] + ' completed'], [fh, height - ch - fh, '#b42318', failed[i] + ' failed']].forEach(function (bar) {
        if (!bar[0]) return;
        var r = document.createElementNS(ns, 'rect');
        r.setAttribute('x', String(i * step + 1)); r.setAttribute('width', String(Math.max(1, step - 2)));
        r.setAttribute('y', String(bar[1])); r.setAttribute('height', String(bar[0])); r.setAttribute('fill', bar[2]);
        var t = document.createElementNS(ns, 'title');
        t.textContent = new Date(minute).toLocaleTimeString() + ': ' + bar[3];
        r.appendChild(t);
        svg.appendChild(r);
      });
    });
    return svg;
  }

  // ---- Jobs
  function renderJobs() {
    var f = jobsState.filter;
    var queues = snapshot ? snapshot.queues.map(function (q) { return q.name; }) : [];
    var field = function (name, label, control) { return h('label', { for: 'filter-' + name }, [label, control]); };
    var stateSelect = h('select', { id: 'filter-state', name: 'state' }, [h('option', { value: '', text: 'any' })]
      .concat(STATES.map(function (s) { return h('option', { value: s, text: s, selected: f.state === s }); })));
    var queueSelect = h('select', { id: 'filter-queue', name: 'queue' }, [h('option', { value: '', text: 'any' })]
      .concat(queues.concat(f.queue && queues.indexOf(f.queue) < 0 ? [f.queue] : []).map(function (q) { return h('option', { value: q, text: q, selected: f.queue === q }); })));
    var text = function (name, placeholder) { return h('input', { id: 'filter-' + name, name: name, type: 'search', value: f[name] || '', placeholder: placeholder }); };
    var form = h('form', { class: 'panel filters', role: 'search', 'aria-label': 'Filter jobs', onsubmit: function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var params = {};
      ['state', 'queue', 'worker', 'tag', 'text'].forEach(function (k) { params[k] = String(data.get(k) || '').trim(); });
      location.hash = '#/jobs?' + query(params);
    } }, [field('state', 'State', stateSelect), field('queue', 'Queue', queueSelect), field('worker', 'Worker', text('worker', 'e.g. WelcomeEmailWorker')),
      field('tag', 'Tag', text('tag', 'one tag')), field('text', 'Args or meta contain', text('text', 'text')),
      h('button', { type: 'submit', class: 'primary', text: 'Filter' }),
      h('button', { type: 'button', text: 'Clear', onclick: function () { location.hash = '#/jobs'; } })]);
    var page = jobsState.page;
    var body = [form];
    if (!page) body.push(h('p', { text: 'Loading…' }));
    else {
      body.push(bulkBar(page));
      body.push(h('div', { class: 'scroll panel' }, [jobsTable(page.jobs)]));
      var nav = h('div', { class: 'actions' }, [
        h('button', { type: 'button', text: 'Newest', disabled: jobsState.cursor === null, onclick: function () { jobsState.cursors = []; loadJobs(null); } }),
        h('button', { type: 'button', text: 'Older', disabled: page.next === null, onclick: function () { jobsState.cursors.push(jobsState.cursor); loadJobs(page.next); } })]);
      if (page.searchedDownTo !== null) nav.appendChild(h('span', { class: 'muted', text: 'Searched jobs down to id ' + page.searchedDownTo + '; Older searches on.' }));
      body.push(nav);
    }
    setView('Jobs', body);
  }

  function selectedIds() { return Object.keys(jobsState.selected).filter(function (k) { return jobsState.selected[k]; }).map(Number); }

  function bulkBar(page) {
    var ids = selectedIds();
    var bar = h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions on jobs' }, [h('span', { class: 'muted', text: ids.length + ' selected' })]);
    ['retry', 'cancel', 'delete'].forEach(function (action) {
      bar.appendChild(h('button', { type: 'button', class: action === 'delete' ? 'danger' : null, disabled: !can(action) || ids.length === 0,
        text: ACTION_LABEL[action] + ' selected', onclick: function () {
          confirmAction(ACTION_LABEL[action] + ' ' + ids.length + ' job(s)?', 'Jobs ' + ids.join(', ') + '.').then(function (ok) {
            if (!ok) return;
            api('POST', 'jobs/actions', { action: action, ids: ids }).then(function (r) {
              var applied = r.results.filter(function (x) { return x.ok; }).length;
              jobsState.selected = {};
              say(ACTION_LABEL[action] + ': ' + applied + ' of ' + ids.length + ' job(s)');
              loadJobs(jobsState.cursor);
            }, function (e) { say(e.message, true); });
          });
        } }));
    });
    ['retry', 'cancel', 'delete'].forEach(function (action) {
      bar.appendChild(h('button', { type: 'button', class: action === 'delete' ? 'danger' : null, disabled: !can(action) || (page.jobs.length === 0 && page.next === null),
        text: ACTION_LABEL[action] + ' all matching', onclick: function () { bulkAction(action); } }));
    });
    return bar;
  }

  function bulkAction(action) {
    var filter = jobsState.filter;
    api('GET', 'jobs/count?' + query(filter)).then(function (c) {
      var n = (c.estimated ? 'about ' : '') + c.count.toLocaleString();
      return confirmAction(ACTION_LABEL[action] + ' all ' + n + ' matching job(s)?',
        'Every job the current filter matches, in chunks: ' + (describe(filter) || 'no filter: all jobs') + '.').then(function (ok) {
        if (!ok) return;
        var total = 0;
        var step = function (cursor) {
          return api('POST', 'jobs/bulk', { action: action, filter: filter, cursor: cursor }).then(function (r) {
            total += r.applied;
            say(ACTION_LABEL[action] + ': ' + total + ' job(s) so far…');
            return r.next === null ? total : step(r.next);
          });
        };
        return step(null).then(function (t) { say(ACTION_LABEL[action] + ': ' + t + ' job(s) done'); jobsState.cursors = []; loadJobs(null); });
      });
    }).catch(function (e) { say(e.message, true); });
  }

  function describe(filter) {
    return Object.keys(filter).filter(function (k) { return filter[k]; }).map(function (k) { return k + ' = ' + filter[k]; }).join(', ');
  }

  function jobsTable(jobs) {
    if (!jobs.length) return h('p', { text: 'No job matches.' });
    var all = h('input', { type: 'checkbox', 'aria-label': 'Select all jobs shown', onchange: function () {
      jobs.forEach(function (j) { jobsState.selected[j.id] = all.checked; });
      renderJobs();
    } });
    all.checked = jobs.every(function (j) { return jobsState.selected[j.id]; });
    var rows = jobs.map(function (j) {
      var box = h('input', { type: 'checkbox', 'aria-label': 'Select job ' + j.id, onchange: function () { jobsState.selected[j.id] = box.checked; renderJobs(); } });
      box.checked = !!jobsState.selected[j.id];
      return h('tr', { 'data-job': j.id }, [h('td', null, [box]), h('th', { scope: 'row' }, [h('a', { href: '#/jobs/' + j.id, text: '#' + j.id })]),
        h('td', null, [stateBadge(j.state)]), h('td', { text: j.worker }), h('td', { text: j.queue }),
        h('td', { class: 'num', text: j.attempt + '/' + j.maxAttempts }), h('td', { title: fmtTime(j.insertedAt), text: ago(j.insertedAt) }),
        h('td', { class: 'wrap', text: (j.tags || []).join(', ') }),
        h('td', { class: 'wrap muted', text: JSON.stringify(j.args).slice(0, 80) })]);
    });
    return h('table', null, [h('caption', { text: 'Jobs, newest first' }),
      h('thead', null, [h('tr', null, [h('th', { scope: 'col' }, [all])].concat(['Job', 'State', 'Worker', 'Queue', 'Attempt', 'Inserted', 'Tags', 'Args']
        .map(function (t) { return h('th', { scope: 'col', text: t }); })))]),
      h('tbody', null, rows)]);
  }

  function loadJobs(cursor) {
    jobsState.cursor = cursor;
    var params = Object.assign({}, jobsState.filter, { cursor: cursor });
    return api('GET', 'jobs?' + query(params)).then(function (page) {
      jobsState.page = page;
      if (route.view === 'jobs') renderJobs();
    }, function (e) { say(e.message, true); jobsState.page = { jobs: [], next: null, searchedDownTo: null }; if (route.view === 'jobs') renderJobs(); });
  }

  // ---- One job
  var shownJob = null;
  var FINAL = ['completed', 'discarded', 'cancelled'];

  /** Loads the job and draws it; quiet (a live update) redraws only when the job changed. */
  function renderJob(quiet) {
    var id = route.id;
    if (!quiet) {
      shownJob = null;
      setView('Job #' + id, [h('p', { text: 'Loading…' })]);
    }
    api('GET', 'jobs/' + encodeURIComponent(id)).then(function (job) {
      if (route.view !== 'job' || route.id !== id) return;
      var json = JSON.stringify(job);
      if (quiet && shownJob === json) return;
      shownJob = json;
      var focused = document.activeElement && document.activeElement.getAttribute('data-action');
      drawJob(id, job);
      if (focused) { var again = main.querySelector('[data-action="' + focused + '"]'); if (again) again.focus(); }
    }, function (e) { if (!quiet) setView('Job #' + id, [h('p', { text: e.message })]); });
  }

  function drawJob(id, job) {
      var actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions on this job' }, ['retry', 'cancel', 'delete'].map(function (action) {
        return h('button', { type: 'button', 'data-action': action, class: action === 'delete' ? 'danger' : null, disabled: !can(action), text: ACTION_LABEL[action],
          onclick: function () {
            confirmAction(ACTION_LABEL[action] + ' job #' + id + '?', job.worker + ' in queue ' + job.queue + ', now ' + job.state + '.').then(function (ok) {
              if (!ok) return;
              api('POST', 'jobs/' + id + '/' + action, {}).then(function (r) {
                say(r.ok ? ACTION_LABEL[action] + ': job #' + id + (r.state ? ' is now ' + r.state : ' deleted') : (r.error || 'nothing to do for job #' + id + ' in its state'), !r.ok);
                if (action === 'delete' && r.ok) location.hash = '#/jobs?' + query(jobsState.filter);
                else renderJob(true);
              }, function (e) { say(e.message, true); });
            });
          } });
      }));
      var fields = [['State', stateBadge(job.state)], ['Queue', job.queue], ['Worker', job.worker], ['Attempt', job.attempt + ' of ' + job.maxAttempts],
        ['Priority', String(job.priority)], ['Tags', (job.tags || []).join(', ') || '—'], ['Inserted', fmtTime(job.insertedAt)],
        ['Scheduled', fmtTime(job.scheduledAt)], ['Attempted', fmtTime(job.attemptedAt)], ['Ran on node', (job.attemptedBy || [])[0] || '—'],
        ['Completed', fmtTime(job.completedAt)], ['Discarded', fmtTime(job.discardedAt)], ['Cancelled', fmtTime(job.cancelledAt)]];
      var dl = h('dl', { class: 'fields' }, []);
      fields.forEach(function (f) { dl.appendChild(h('dt', { text: f[0] })); dl.appendChild(h('dd', null, [f[1]])); });
      var errors = (job.errors || []).length
        ? h('ol', { class: 'errors' }, job.errors.map(function (e) {
          return h('li', null, [h('strong', { text: 'Attempt ' + e.attempt + ' · ' + fmtTime(e.at) }), h('pre', { text: e.error }),
            e.stack ? h('details', null, [h('summary', { text: 'Stack' }), h('pre', { text: e.stack })]) : null]);
        }))
        : h('p', { class: 'muted', text: 'No error recorded.' });
      setView('Job #' + id, [h('p', null, [h('a', { href: '#/jobs?' + query(jobsState.filter), text: '← Jobs' })]), actions,
        h('div', { class: 'panel' }, [dl]),
        h('h2', { text: 'Args' }), h('pre', { text: JSON.stringify(job.args, null, 2) }),
        h('h2', { text: 'Meta' }), h('pre', { text: JSON.stringify(job.meta, null, 2) }),
        h('h2', { text: 'Result' }), h('pre', { text: job.result === null ? 'none' : JSON.stringify(job.result, null, 2) }),
        h('h2', { text: 'Errors (' + (job.errors || []).length + ')' }), errors]);
  }

  // ---- Confirmation
  function confirmAction(title, text) {
    var dialog = document.getElementById('confirm');
    document.getElementById('confirm-title').textContent = title;
    document.getElementById('confirm-text').textContent = text;
    var back = document.activeElement;
    return new Promise(function (resolve) {
      var ok = document.getElementById('confirm-ok'), cancel = document.getElementById('confirm-cancel');
      var done = function (value) {
        ok.onclick = cancel.onclick = dialog.oncancel = null;
        dialog.close();
        if (back && back.focus) back.focus();
        resolve(value);
      };
      ok.onclick = function () { done(true); };
      cancel.onclick = function () { done(false); };
      dialog.oncancel = function (event) { event.preventDefault(); done(false); };
      dialog.showModal();
      cancel.focus();
    });
  }

  // ---- Live figures
  /** Redraws the view with the new figures, keeping the keyboard focus where it was. */
  function liveRender() {
    var el = document.activeElement;
    var key = el && main.contains(el) ? (el.id ? '#' + el.id : el.getAttribute('aria-label')) : null;
    render(false);
    if (!key) return;
    var again = key.charAt(0) === '#' ? document.getElementById(key.slice(1)) : null;
    if (!again) {
      main.querySelectorAll('[aria-label]').forEach(function (c) { if (!again && c.getAttribute('aria-label') === key) again = c; });
    }
    // The field being edited is kept itself, not its redrawn copy: its text, caret and selection stay as they were.
    if (again && el.tagName === 'INPUT' && again.tagName === 'INPUT') { again.replaceWith(el); again = el; }
    if (again) again.focus();
  }

  function refresh(force) {
    return api('GET', 'snapshot').then(function (s) {
      snapshot = s;
      live.className = 'live';
      live.textContent = 'live · ' + new Date(s.at).toLocaleTimeString() + ' · node ' + s.node;
      var typing = document.activeElement && main.contains(document.activeElement) && /INPUT|SELECT/.test(document.activeElement.tagName);
      // Edits survive a redraw (see limitDrafts); a focused field only defers it, so an open list stays open.
      if ((force || !typing) && (route.view === 'queues' || route.view === 'nodes' || route.view === 'activity')) {
        liveRender();
      }
      // A job still on its way (retried, running) is shown as it moves on.
      if (route.view === 'job' && shownJob && FINAL.indexOf(JSON.parse(shownJob).state) < 0 && !document.getElementById('confirm').open) renderJob(true);
    }, function (e) {
      live.className = 'live stale';
      live.textContent = 'not updating: ' + e.message;
    });
  }

  function onRoute() {
    var next = parseRoute();
    var changed = next.view !== route.view || next.id !== route.id;
    route = next;
    if (route.view === 'jobs') {
      var params = route.params || {};
      var filter = {};
      ['state', 'queue', 'worker', 'tag', 'text'].forEach(function (k) { if (params[k]) filter[k] = params[k]; });
      if (JSON.stringify(filter) !== JSON.stringify(jobsState.filter) || !jobsState.page) {
        jobsState.filter = filter;
        jobsState.cursors = [];
        jobsState.selected = {};
        jobsState.page = null;
        loadJobs(null);
      }
    }
    render(changed);
  }

  api('GET', 'me').then(function (m) {
    me = m;
    if (m.states && m.states.length) STATES = m.states;
    window.addEventListener('hashchange', onRoute);
    onRoute();
    refresh(true);
    timer = setInterval(function () { refresh(false); }, Math.max(1000, me.refreshInterval));
  }, function (e) {
    main.replaceChildren(h('h1', { text: 'Oban dashboard' }), h('p', { text: 'Not available: ' + e.message }));
    live.textContent = '';
  });
})();
`;
