// recplan's console: reads the control API with the token it asks for
// once, and follows /api/v1/events. Every value from the daemon is put in
// the page as text (textContent), never as markup.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const viewerTz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const KEY = 'recplan-token';
  const PHASE_CLASS = {
    recording: 'recording', stopping: 'stopping', failed: 'failed', lost: 'lost',
    pending: 'starting', acquiring: 'starting', acquired: 'starting', starting: 'starting',
  };
  const state = {
    token: sessionStorage.getItem(KEY) || localStorage.getItem(KEY),
    plans: [], sessions: [], history: { sessions: [], actions: [] },
    stopping: new Set(), view: 'week', anchor: today(), stream: null, timers: {},
  };

  // ---- DOM helpers ---------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (key === 'data') Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const clear = (node, ...children) => node.replaceChildren(...children.flat().filter(Boolean));

  // ---- Time ----------------------------------------------------------------
  function today() { const d = new Date(); d.setHours(0, 0, 0, 0); return d; }
  function ymd(d) {
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  }
  function fmt(iso, tz, withDay = true) {
    const options = { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    if (withDay) Object.assign(options, { weekday: 'short', day: 'numeric', month: 'short' });
    try { return new Intl.DateTimeFormat(undefined, options).format(new Date(iso)); } catch (_) { return iso; }
  }
  function offsetOf(iso, tz) {
    try {
      return new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'shortOffset' })
        .formatToParts(new Date(iso)).find((p) => p.type === 'timeZoneName').value;
    } catch (_) { return tz; }
  }
  // A time in the plan's timezone, and the viewer's when that differs.
  function when(iso, tz) {
    if (!iso) return el('span', { class: 'muted', text: '—' });
    const main = el('span', { class: 'nums', title: `${tz} (${offsetOf(iso, tz)})` }, fmt(iso, tz), ' ', el('span', { class: 'muted', text: shortTz(tz) }));
    if (offsetOf(iso, tz) === offsetOf(iso, viewerTz)) return main;
    return el('span', {}, main, el('span', { class: 'sub nums', text: `${fmt(iso, viewerTz)} your time` }));
  }
  function shortTz(tz) { return tz.includes('/') ? tz.split('/').pop().replace(/_/g, ' ') : tz; }
  function span(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return h ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(sec).padStart(2, '0')}s`;
  }

  // ---- API -----------------------------------------------------------------
  async function api(method, path) {
    const response = await fetch(`/api/v1${path}`, {
      method, cache: 'no-store', headers: { Authorization: `Bearer ${state.token}` },
    });
    let body = null;
    try { body = await response.json(); } catch (_) { /* an empty answer */ }
    if (response.status === 401 || response.status === 403) {
      signOut(body && body.error ? `${body.error}: ${body.hint}` : 'The token was refused.');
    }
    if (!response.ok) {
      const error = new Error(body && body.error ? body.error : `HTTP ${response.status}`);
      error.hint = body && body.hint;
      throw error;
    }
    return body;
  }
  function banner(text) {
    const node = $('banner');
    node.textContent = text || '';
    node.hidden = !text;
  }
  function failed(error) { banner(error.hint ? `${error.message} — ${error.hint}` : error.message); }

  // ---- Sign in -------------------------------------------------------------
  function signOut(message) {
    sessionStorage.removeItem(KEY);
    localStorage.removeItem(KEY);
    state.token = null;
    if (state.stream) state.stream.abort();
    $('app').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    const error = $('login-error');
    error.textContent = message || '';
    error.hidden = !message;
    $('token').focus();
  }
  async function signIn(token, remember) {
    state.token = token;
    try {
      await api('GET', '/plans');
    } catch (_) {
      return;
    }
    (remember ? localStorage : sessionStorage).setItem(KEY, token);
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = false;
    refreshAll();
    follow();
  }

  // ---- Sessions ------------------------------------------------------------
  function renderSessions() {
    const root = $('sessions');
    $('live-count').textContent = state.sessions.length;
    if (!state.sessions.length) {
      clear(root, el('p', { class: 'empty', text: 'Nothing is recording.' }));
      return;
    }
    clear(root, state.sessions.map((s) => {
      const stopping = state.stopping.has(s.id) && s.phase !== 'completed' && s.phase !== 'interrupted';
      const phase = stopping && s.phase === 'recording' ? 'stopping' : s.phase;
      const kind = PHASE_CLASS[phase] || '';
      const next = s.next_step
        ? ['next ', el('b', { text: s.next_step.call }), ` at +${s.next_step.at} (`, fmt(s.next_step.due, s.timezone, false), ')']
        : [s.steps_total ? 'no steps left' : 'no steps'];
      return el('article', { class: `session ${kind}`, data: { sessionId: s.id } },
        el('div', { class: 'session-top' },
          el('div', {},
            el('div', { class: 'session-name', text: s.cname }),
            el('div', { class: 'session-sub', text: `${s.plan} · uid ${s.uid} · session ${s.id}` })),
          el('span', { class: `badge ${kind}`, text: phase })),
        el('div', { class: 'progress' }, el('div', { data: { start: s.started_at, end: s.ends_at } })),
        el('div', { class: 'times' },
          el('span', { data: { elapsed: s.started_at } }),
          el('span', { class: 'muted' }, fmt(s.started_at, s.timezone, false), '–', fmt(s.ends_at, s.timezone, false), ' ', shortTz(s.timezone)),
          el('span', { data: { remaining: s.ends_at } })),
        el('div', { class: 'steps' }, `steps ${s.steps_done}/${s.steps_total} done · `, ...next),
        s.error ? el('div', { class: 'problem-text', text: s.error }) : null,
        el('div', { class: 'session-foot' },
          el('code', { title: s.sid || '', text: s.sid ? `sid ${s.sid}` : 'no sid yet' }),
          el('button', {
            class: 'danger small stop', type: 'button', disabled: stopping || phase === 'stopping',
            onclick: () => confirmStop(s),
          }, stopping ? 'Stopping…' : 'Stop')));
    }));
    tick();
  }
  function tick() {
    const now = Date.now();
    $('clock').textContent = `${fmt(new Date().toISOString(), viewerTz)} ${shortTz(viewerTz)}`;
    document.querySelectorAll('[data-elapsed]').forEach((node) => {
      node.textContent = `${span(now - Date.parse(node.dataset.elapsed))} in`;
    });
    document.querySelectorAll('[data-remaining]').forEach((node) => {
      node.textContent = `${span(Date.parse(node.dataset.remaining) - now)} left`;
    });
    document.querySelectorAll('.progress > [data-start]').forEach((node) => {
      const start = Date.parse(node.dataset.start), end = Date.parse(node.dataset.end);
      node.style.width = `${Math.min(100, Math.max(0, ((now - start) / Math.max(1, end - start)) * 100))}%`;
    });
  }
  function confirmStop(session) {
    const dialog = $('confirm');
    $('confirm-text').replaceChildren(
      el('b', { text: session.cname }), ` (uid ${session.uid}) of plan `, el('b', { text: session.plan }), ', session ', String(session.id), '.');
    dialog.returnValue = '';
    dialog.onclose = async () => {
      if (dialog.returnValue !== 'stop') return;
      state.stopping.add(session.id);
      renderSessions();
      try {
        await api('POST', `/sessions/${encodeURIComponent(session.id)}/stop`);
        banner('');
      } catch (error) {
        state.stopping.delete(session.id);
        failed(error);
      }
      refresh('sessions');
    };
    dialog.showModal();
    $('confirm-cancel').focus();
  }

  // ---- Plans ---------------------------------------------------------------
  function renderPlans() {
    $('plan-count').textContent = state.plans.length;
    const body = $('plans').tBodies[0];
    if (!state.plans.length) {
      clear(body, el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'No plans loaded.' })));
      return;
    }
    clear(body, state.plans.map((p) => {
      const status = p.problem
        ? el('span', { class: 'badge problem', text: 'problem' })
        : p.paused ? el('span', { class: 'badge paused', text: 'paused' })
          : el('span', { class: 'badge ok', text: p.next ? 'scheduled' : 'on demand' });
      return el('tr', { class: p.problem ? 'bad' : '', data: { plan: p.name } },
        el('td', {}, el('span', { class: 'name', text: p.name }), el('span', { class: 'sub', text: p.path }),
          p.problem ? el('span', { class: 'problem-text', text: p.problem }) : null),
        el('td', {}, p.schedule ? el('code', { text: p.schedule }) : el('span', { class: 'muted', text: 'none' }),
          el('span', { class: 'sub', text: [p.timezone, p.duration, p.mode, `${p.channels} channel${p.channels === 1 ? '' : 's'}`].filter(Boolean).join(' · ') })),
        el('td', {}, p.paused ? el('span', { class: 'muted', text: 'paused' }) : when(p.next, p.timezone)),
        el('td', { class: 'hide-narrow' }, p.paused ? null : p.next_starts.slice(1).map((start) => el('span', { class: 'sub nums', text: fmt(start, p.timezone) }))),
        el('td', {}, status),
        el('td', {}, p.problem ? null : el('div', { class: 'row-actions' },
          el('button', { class: 'small', type: 'button', onclick: () => act(`/plans/${encodeURIComponent(p.name)}/run`) }, 'Run now'),
          el('button', { class: 'small ghost', type: 'button', onclick: () => act(`/plans/${encodeURIComponent(p.name)}/${p.paused ? 'resume' : 'pause'}`) }, p.paused ? 'Resume' : 'Pause'))));
    }));
  }
  async function act(path) {
    try {
      await api('POST', path);
      banner('');
    } catch (error) {
      failed(error);
    }
    refreshAll();
  }

  // ---- Calendar ------------------------------------------------------------
  function calendarRange() {
    const a = new Date(state.anchor);
    if (state.view === 'week') {
      a.setDate(a.getDate() - ((a.getDay() + 6) % 7));
      return { first: a, days: 7 };
    }
    const first = new Date(a.getFullYear(), a.getMonth(), 1);
    first.setDate(first.getDate() - ((first.getDay() + 6) % 7));
    return { first, days: 42 };
  }
  async function loadCalendar() {
    const { first, days } = calendarRange();
    const view = await api('GET', `/calendar?from=${ymd(first)}&days=${days}&tz=${encodeURIComponent(viewerTz)}`);
    const byDay = new Map();
    for (const slot of view.slots) {
      const key = ymd(new Date(slot.start));
      if (!byDay.has(key)) byDay.set(key, []);
      byDay.get(key).push(slot);
    }
    const month = state.view === 'month';
    const root = $('calendar');
    root.className = `calendar ${month ? 'month' : 'week'}`;
    const last = new Date(first); last.setDate(first.getDate() + days - 1);
    $('cal-title').textContent = month
      ? new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric' }).format(state.anchor)
      : `${first.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })} – ${last.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })} · ${viewerTz}`;
    const now = Date.now(), todayKey = ymd(today());
    const cells = [];
    for (let i = 0; i < days; i += 1) {
      const day = new Date(first); day.setDate(first.getDate() + i);
      const key = ymd(day);
      const slots = byDay.get(key) || [];
      const limit = month ? 3 : 12;
      const other = month && day.getMonth() !== state.anchor.getMonth();
      cells.push(el('div', { class: `day${key === todayKey ? ' today' : ''}${other ? ' other' : ''}${slots.length ? '' : ' blank'}` },
        el('div', { class: 'day-head' },
          el('span', { text: day.toLocaleDateString(undefined, month ? { day: 'numeric' } : { weekday: 'short', day: 'numeric', month: 'short' }) }),
          slots.length ? el('span', { text: String(slots.length) }) : null),
        slots.slice(0, limit).map((slot) => el('span', {
          class: `slot${slot.conflict ? ' conflict' : ''}${slot.paused ? ' paused' : ''}${Date.parse(slot.end) < now ? ' past' : ''}`,
          title: `${slot.plan}: ${slot.cname} (uid ${slot.uid}) ${fmt(slot.start, viewerTz)}–${fmt(slot.end, viewerTz, false)}${slot.conflict ? ' — conflicts with another plan' : ''}`,
        }, `${fmt(slot.start, viewerTz, false)} ${slot.plan} · ${slot.cname}`)),
        slots.length > limit ? el('span', { class: 'more', text: `+${slots.length - limit} more` }) : null));
    }
    clear(root, cells);
  }
  function page(step) {
    const a = new Date(state.anchor);
    if (state.view === 'week') a.setDate(a.getDate() + 7 * step);
    else { a.setDate(1); a.setMonth(a.getMonth() + step); }
    state.anchor = a;
    loadCalendar().catch(failed);
  }

  // ---- History -------------------------------------------------------------
  function renderHistory() {
    const filter = $('outcome').value;
    const tzOf = (plan) => (state.plans.find((p) => p.name === plan) || {}).timezone || viewerTz;
    const rows = state.history.sessions.filter((s) => !filter || (filter === 'active' ? s.active : s.phase === filter));
    const body = $('history').tBodies[0];
    clear(body, rows.length ? rows.map((s) => el('tr', { class: s.phase === 'failed' ? 'bad' : '' },
      el('td', {}, when(s.started_at, tzOf(s.plan))),
      el('td', { class: 'name', text: s.plan }),
      el('td', {}, el('span', { text: s.cname }), el('span', { class: 'sub', text: `uid ${s.uid} · session ${s.id}` })),
      el('td', {}, el('span', { class: `badge ${s.active ? PHASE_CLASS[s.phase] || '' : s.phase}`, text: s.active && s.phase === 'failed' ? 'failed, may still run' : s.phase }),
        s.restarts ? el('span', { class: 'sub', text: `${s.restarts} restart${s.restarts === 1 ? '' : 's'}` }) : null,
        s.error ? el('span', { class: 'problem-text sub', text: s.error }) : null),
      el('td', { text: s.upload_status || '—' }),
      el('td', {}, s.files.length
        ? el('details', {}, el('summary', { text: `${s.files.length} file${s.files.length === 1 ? '' : 's'}` }), el('ul', {}, s.files.map((f) => el('li', {}, el('code', { text: f })))))
        : el('span', { class: 'muted', text: '—' }))))
      : [el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'Nothing recorded yet.' }))]);
    clear($('actions'), state.history.actions.length
      ? state.history.actions.map((a) => el('li', {}, fmt(a.at, viewerTz), ' · ', el('b', { text: a.action }), ` ${a.target} · ${a.outcome} · from ${a.remote}`))
      : [el('li', { text: 'None yet.' })]);
  }

  // ---- Loading and live updates --------------------------------------------
  const loaders = {
    plans: async () => { state.plans = await api('GET', '/plans'); renderPlans(); },
    sessions: async () => {
      state.sessions = await api('GET', '/sessions');
      const live = new Set(state.sessions.map((s) => s.id));
      for (const id of state.stopping) if (!live.has(id)) state.stopping.delete(id);
      renderSessions();
    },
    history: async () => { state.history = await api('GET', '/history?limit=200'); renderHistory(); },
    calendar: loadCalendar,
  };
  // Bursts of events make one request per kind.
  function refresh(kind) {
    clearTimeout(state.timers[kind]);
    state.timers[kind] = setTimeout(() => { loaders[kind]().catch(failed); }, 150);
  }
  function refreshAll() { Object.keys(loaders).forEach(refresh); }
  const AFFECTS = {
    session_started: ['sessions'], session_recording: ['sessions'], session_restarting: ['sessions'], step_sent: ['sessions'], session_stopping: ['sessions'],
    session_stopped: ['sessions', 'history'], session_failed: ['sessions', 'history'],
    occurrence_skipped: ['history', 'plans'], occurrence_finished: ['sessions', 'history', 'plans'],
    plan_reloaded: ['plans', 'calendar'], plan_removed: ['plans', 'calendar'], plan_paused: ['plans', 'calendar'],
    lagged: Object.keys(loaders),
  };
  function setLink(mode) {
    const link = $('link');
    link.dataset.state = mode;
    link.textContent = { live: 'live', retry: 'reconnecting', off: 'offline' }[mode];
  }
  // EventSource cannot send the token, so the stream is read with fetch.
  async function follow() {
    if (!state.token) return;
    const controller = new AbortController();
    state.stream = controller;
    try {
      const response = await fetch('/api/v1/events', {
        headers: { Authorization: `Bearer ${state.token}` }, signal: controller.signal, cache: 'no-store',
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      setLink('live');
      refreshAll();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = (block.match(/^event: ?(.*)$/m) || [])[1];
          (AFFECTS[name] || []).forEach(refresh);
        }
      }
    } catch (_) { /* reconnect below */ }
    if (controller.signal.aborted || !state.token) { setLink('off'); return; }
    setLink('retry');
    setTimeout(follow, 3000);
  }

  // ---- Wiring --------------------------------------------------------------
  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      signIn($('token').value.trim(), $('remember').checked);
      $('token').value = '';
    });
    $('logout').addEventListener('click', () => signOut(''));
    $('outcome').addEventListener('change', renderHistory);
    $('cal-prev').addEventListener('click', () => page(-1));
    $('cal-next').addEventListener('click', () => page(1));
    $('cal-today').addEventListener('click', () => { state.anchor = today(); loadCalendar().catch(failed); });
    for (const view of ['week', 'month']) {
      $(`cal-${view}`).addEventListener('click', () => {
        state.view = view;
        $('cal-week').classList.toggle('on', view === 'week');
        $('cal-month').classList.toggle('on', view === 'month');
        loadCalendar().catch(failed);
      });
    }
    setInterval(tick, 1000);
    // Besides the live updates, a slow poll: next starts move on.
    setInterval(() => { if (state.token && !$('app').hidden) refreshAll(); }, 60000);
    if (state.token) signIn(state.token, Boolean(localStorage.getItem(KEY)));
    else signOut('');
  });
})();
