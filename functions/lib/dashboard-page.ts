/**
 * The operator dashboard, served by the function app itself (`GET /api/dashboard?code=<function key>`): one page of
 * plain HTML, CSS and script, no build step and nothing loaded from elsewhere. The script reads the function key from
 * the page's own `code` parameter and sends it as `x-functions-key` to the status API (`/api/summary`, `/api/vms`,
 * `/api/vms/{subscription}/{resourceGroup}/{name}`) and to the endpoints that already exist (`POST /api/vms/encrypt`,
 * `/api/vms/heal`, `/api/sweep?dryRun=true`). Every value from the API is written with `textContent`, never as HTML.
 */

export const DASHBOARD_ROUTE = 'dashboard';

/** The page, with `nonce` on its one inline script and style (the Content-Security-Policy allows only those). */
export function dashboardPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>ade-autopilot · fleet</title>
<style nonce="${nonce}">
  :root { --ok: #107c10; --bad: #c50f1f; --busy: #0f6cbd; --skip: #616161; --line: #e0e0e0; font-family: system-ui, sans-serif; }
  body { margin: 0; color: #242424; background: #fafafa; }
  header { background: #1b1b1b; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header .meta { font-size: 12px; opacity: .75; }
  main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: minmax(0, 3fr) minmax(320px, 2fr); }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
  section h2 { font-size: 15px; margin: 0 0 10px; }
  .cards { display: flex; gap: 10px; flex-wrap: wrap; grid-column: 1 / -1; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 110px; cursor: pointer; }
  .card b { display: block; font-size: 24px; }
  .card.active { outline: 2px solid var(--busy); }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 5px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
  td { overflow-wrap: anywhere; }
  #side table { margin-top: 8px; font-size: 12px; }
  #side td:first-child, #side td:nth-child(2), #side td:nth-child(3) { overflow-wrap: normal; white-space: nowrap; }
  tbody tr.vm { cursor: pointer; }
  tbody tr.vm:hover { background: #f0f6ff; }
  .state { font-weight: 600; text-transform: uppercase; font-size: 11px; letter-spacing: .04em; }
  .state-encrypted { color: var(--ok); } .state-failed { color: var(--bad); }
  .state-pending { color: var(--busy); } .state-skipped { color: var(--skip); }
  .filters { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 8px; font-size: 13px; }
  .filters input, .filters select { font: inherit; padding: 2px 4px; }
  button { font: inherit; font-size: 13px; padding: 4px 10px; border-radius: 4px; border: 1px solid #8a8a8a; background: #fff; }
  button { cursor: pointer; }
  button.primary { background: var(--busy); color: #fff; border-color: var(--busy); }
  .failing li { margin-bottom: 8px; } .failing .reason { color: var(--bad); font-size: 13px; overflow-wrap: anywhere; }
  .failing .next { color: #424242; font-size: 12px; }
  .muted { color: #707070; font-size: 12px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; font-size: 13px; margin: 0 0 10px; }
  dt { color: #616161; } dd { margin: 0; word-break: break-all; }
  #message { font-size: 12px; white-space: pre-wrap; word-break: break-all; }
  .error { color: var(--bad); }
</style>
</head>
<body>
<header><h1>ade-autopilot</h1><span class="meta" id="updated">loading…</span>
  <span class="meta" id="oldest"></span><span class="meta" id="failures24h"></span></header>
<main>
  <div class="cards" id="cards"></div>
  <section id="fleet">
    <h2>Fleet</h2>
    <div class="filters">
      <label>Subscription <input id="f-subscription" size="12" placeholder="any"></label>
      <label>Resource group <input id="f-resourceGroup" size="12" placeholder="any"></label>
      <label>OS <select id="f-os"><option value="">any</option><option>Windows</option><option>Linux</option></select></label>
      <label>Mode <select id="f-mode"><option value="">any</option><option>aad</option><option>single-pass</option>
        <option>encryption-at-host</option></select></label>
      <label>Kind <select id="f-kind"><option value="">any</option><option value="vm">VM</option>
        <option value="scaleSet">scale set</option></select></label>
      <button id="sweep-dry-run">Sweep dry run</button>
    </div>
    <table><thead><tr><th>State</th><th>Kind</th><th>Name</th><th>Resource group</th><th>OS</th><th>Mode</th><th>Phase</th>
      <th>Updated</th></tr></thead>
      <tbody id="fleet-rows"></tbody></table>
    <div class="muted"><span id="page-info"></span> <button id="prev-page">Previous</button> <button id="next-page">Next</button></div>
    <h2>Migration off ADE</h2>
    <div class="filters"><button id="migration-load">Load migration report</button> <span id="migration-days" class="muted"></span>
      <a id="migration-csv" hidden>CSV</a></div>
    <table id="migration-table" hidden><thead><tr><th>VM</th><th>OS</th><th>Mode</th><th>Volumes</th><th>KEK</th><th>Path</th>
      <th>Reason</th></tr></thead>
      <tbody id="migration-rows"></tbody></table>
  </section>
  <section id="side">
    <div id="detail" hidden>
      <h2 id="detail-name"></h2>
      <dl id="detail-facts"></dl>
      <div id="detail-error" class="failing"></div>
      <p><button class="primary" id="encrypt">Encrypt</button> <button id="heal">Heal</button> <button id="close-detail">Close</button></p>
      <table><thead><tr><th>Run</th><th>Started</th><th>Ended</th><th>Outcome</th><th>Reason</th></tr></thead>
        <tbody id="detail-runs"></tbody></table>
      <table><thead><tr><th>Disk</th><th>Role</th><th>Encryption</th></tr></thead><tbody id="detail-disks"></tbody></table>
    </div>
    <h2>Failing</h2>
    <ul class="failing" id="failing"></ul>
    <div id="message" class="muted"></div>
  </section>
</main>
<script nonce="${nonce}">
'use strict';
(() => {
  const key = new URLSearchParams(location.search).get('code') || '';
  const base = location.pathname.replace(/\\/dashboard\\/?$/, '');
  const STATES = ['pending', 'encrypted', 'failed', 'skipped'];
  const FILTERS = ['subscription', 'resourceGroup', 'os', 'mode', 'kind'];
  const kindText = (kind) => (kind === 'scaleSet' ? 'scale set' : 'VM');
  const view = { state: '', pages: [undefined], page: 0, selected: undefined };
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');

  async function api(path, init) {
    const response = await fetch(base + path, { ...init, headers: { 'x-functions-key': key, ...(init && init.headers) } });
    const text = await response.text();
    let body; try { body = text ? JSON.parse(text) : {}; } catch { body = { error: text }; }
    if (!response.ok && response.status !== 404) throw new Error(path + ' answered ' + response.status + ': ' + (body.error || text));
    return { status: response.status, body };
  }
  function say(text, isError) { const m = $('message'); m.textContent = text; m.className = isError ? 'error' : 'muted'; }

  function query() {
    const p = new URLSearchParams({ top: '25' });
    if (view.state) p.set('state', view.state);
    for (const f of FILTERS) { const v = $('f-' + f).value.trim(); if (v) p.set(f, v); }
    const token = view.pages[view.page]; if (token) p.set('continuationToken', token);
    return p;
  }

  function renderCards(counts) {
    const cards = $('cards'); cards.replaceChildren();
    for (const s of ['', ...STATES]) {
      const c = el('div', undefined, 'card' + (view.state === s ? ' active' : ''));
      c.dataset.state = s || 'all';
      c.append(el('b', s ? counts[s] : counts.total), el('span', s || 'all VMs'));
      c.addEventListener('click', () => { view.state = s; view.pages = [undefined]; view.page = 0; refresh(); });
      cards.append(c);
    }
  }

  function renderFleet(page) {
    const rows = $('fleet-rows'); rows.replaceChildren();
    for (const vm of page.vms) {
      const tr = el('tr', undefined, 'vm');
      tr.dataset.vm = vm.name; tr.dataset.state = vm.state; tr.dataset.kind = vm.kind || 'vm';
      if (view.selected && view.selected.kind === 'scaleSet' && view.selected.row.vmId === vm.vmId) view.selected.row = vm;
      tr.append(el('td', vm.state, 'state state-' + vm.state), el('td', kindText(vm.kind)), el('td', vm.name), el('td', vm.resourceGroup),
        el('td', vm.os || ''),
        el('td', vm.mode || ''), el('td', vm.phase, 'phase'), el('td', time(vm.lastUpdated)));
      tr.addEventListener('click', () => openVm(vm));
      rows.append(tr);
    }
    if (page.vms.length === 0) {
      const tr = el('tr'); const td = el('td', 'No VMs match.', 'muted'); td.colSpan = 8; tr.append(td); rows.append(tr);
    }
    view.pages[view.page + 1] = page.continuationToken;
    $('page-info').textContent = 'page ' + (view.page + 1);
    $('prev-page').disabled = view.page === 0;
    $('next-page').disabled = !page.continuationToken;
  }

  async function renderFailing() {
    const { body } = await api('/vms?state=failed&top=20');
    const list = $('failing'); list.replaceChildren();
    for (const vm of body.vms) {
      const li = el('li'); li.dataset.vm = vm.name;
      const name = el('a', vm.name); name.href = '#'; name.addEventListener('click', (e) => { e.preventDefault(); openVm(vm); });
      li.append(name, el('div', vm.lastError ? vm.lastError.reason : 'failed', 'reason'),
        el('div', vm.lastError ? 'Next: ' + vm.lastError.nextStep : '', 'next'));
      list.append(li);
    }
    if (body.vms.length === 0) list.append(el('li', 'Nothing is failing.', 'muted'));
  }

  function openVm(vm) {
    view.selected = { subscriptionId: vm.subscriptionId, resourceGroup: vm.resourceGroup, name: vm.name, kind: vm.kind || 'vm', row: vm };
    renderDetail();
  }

  function showError(body) {
    const err = $('detail-error'); err.replaceChildren();
    if (body.lastError) err.append(el('div', body.lastError.reason, 'reason'), el('div', 'Next step: ' + body.lastError.nextStep, 'next'));
    err.querySelectorAll('.reason').forEach((e) => (e.id = 'detail-reason'));
  }

  /** A scale set has no detail endpoint: its fleet row says it all (state, instances, last error and next step). */
  function renderScaleSet(body) {
    $('detail').hidden = false;
    $('detail-name').textContent = body.name;
    const facts = $('detail-facts'); facts.replaceChildren();
    const add = (k, v) => { if (v !== undefined && v !== '') facts.append(el('dt', k), el('dd', v)); };
    add('State', body.state); add('Kind', 'scale set (Uniform)'); add('Phase', body.phase); add('OS', body.os);
    add('Vault', body.vaultName); add('Scale set id', body.vmId);
    add('Instances', Object.entries(body.instances || {}).map(([i, v]) => i + ': ' + v).join(', '));
    facts.querySelectorAll('dd')[0].id = 'detail-state';
    showError(body);
    $('encrypt').hidden = true; $('heal').hidden = true;
    $('detail-runs').closest('table').hidden = true; $('detail-disks').closest('table').hidden = true;
  }

  async function renderDetail() {
    const s = view.selected; if (!s) return;
    if (s.kind === 'scaleSet') { renderScaleSet(s.row); return; }
    $('encrypt').hidden = false; $('heal').hidden = false; $('detail-runs').closest('table').hidden = false;
    const { status, body } = await api('/vms/' + [s.subscriptionId, s.resourceGroup, s.name].map(encodeURIComponent).join('/'));
    if (status === 404) { say('No run for ' + s.name + ' (yet).'); return; }
    $('detail').hidden = false;
    $('detail-name').textContent = body.name;
    const facts = $('detail-facts'); facts.replaceChildren();
    const add = (k, v) => { if (v !== undefined && v !== '') facts.append(el('dt', k), el('dd', v)); };
    add('State', body.state); add('Phase', body.phase); add('OS', body.os);
    add('Mode', body.mode); add('Vault', body.vaultName); add('VM id', body.vmId);
    facts.querySelectorAll('dd')[0].id = 'detail-state';
    showError(body);
    const runs = $('detail-runs'); runs.replaceChildren();
    for (const r of body.runs) {
      const tr = el('tr');
      tr.append(el('td', r.orchestration + (r.inFlight ? ' (' + (r.phase || 'running') + ')' : '')), el('td', time(r.startedAt)),
        el('td', time(r.endedAt)), el('td', r.outcome || r.runtimeStatus), el('td', r.reason || '')); runs.append(tr);
    }
    const disks = $('detail-disks'); disks.replaceChildren();
    $('detail-disks').closest('table').hidden = !(body.disks && body.disks.length);
    for (const d of body.disks || []) {
      const tr = el('tr'); tr.append(el('td', d.name), el('td', d.role), el('td', d.encryption)); disks.append(tr);
    }
  }

  async function post(path, body) {
    try {
      const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined };
      const { status, body: answer } = await api(path, init);
      say(path + ' → ' + status + ' ' + JSON.stringify(answer));
      refresh();
    } catch (error) { say(String(error.message || error), true); }
  }
  const selectedId = () => {
    const s = view.selected;
    return '/subscriptions/' + s.subscriptionId + '/resourceGroups/' + s.resourceGroup +
      '/providers/Microsoft.Compute/virtualMachines/' + s.name;
  };
  $('encrypt').addEventListener('click', () => post('/vms/encrypt', { vmId: selectedId() }));
  $('heal').addEventListener('click', () => post('/vms/heal', { vmId: selectedId() }));
  $('sweep-dry-run').addEventListener('click', () => post('/sweep?dryRun=true'));
  // The migration report reads the whole fleet: loaded on demand, not on every refresh.
  $('migration-load').addEventListener('click', async () => {
    try {
      const { body } = await api('/migration');
      if (body.error) throw new Error(body.error);
      $('migration-days').textContent =
        body.daysLeft + ' days left until ' + body.retirementDate + ' · ' + body.total + ' ADE VM(s) · as of ' + time(body.asOf);
      const rows = $('migration-rows'); rows.replaceChildren();
      for (const r of body.vms) {
        const tr = el('tr'); tr.dataset.vm = r.name;
        tr.append(el('td', r.name), el('td', r.os), el('td', r.mode), el('td', r.volumeType), el('td', r.kek ? 'yes' : 'no'),
          el('td', r.path), el('td', r.reason));
        rows.append(tr);
      }
      $('migration-table').hidden = false;
      const csv = $('migration-csv'); csv.href = base + '/migration?format=csv&code=' + encodeURIComponent(key); csv.hidden = false;
    } catch (error) { say(String(error.message || error), true); }
  });
  $('close-detail').addEventListener('click', () => { view.selected = undefined; $('detail').hidden = true; });
  $('prev-page').addEventListener('click', () => { view.page = Math.max(0, view.page - 1); refresh(); });
  $('next-page').addEventListener('click', () => { view.page++; refresh(); });
  for (const f of FILTERS)
    $('f-' + f).addEventListener('change', () => { view.pages = [undefined]; view.page = 0; refresh(); });

  let busy = false;
  async function refresh() {
    if (busy) return; busy = true;
    try {
      const [{ body: summary }, { body: page }] = await Promise.all([api('/summary'), api('/vms?' + query())]);
      if (page.error) throw new Error(page.error);
      renderCards(page.counts); renderFleet(page);
      $('failures24h').textContent = summary.failuresLast24h + ' failed in 24 h';
      const oldest = summary.oldestInFlight;
      $('oldest').textContent = oldest ? 'oldest in flight: ' + oldest.ageSeconds + ' s' : 'nothing in flight';
      await renderFailing();
      await renderDetail();
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (error) { say(String(error.message || error), true); }
    finally { busy = false; }
  }
  if (!key) say('Open this page with ?code=<function key>: the status API needs it.', true);
  refresh();
  setInterval(refresh, 2000);
})();
</script>
</body>
</html>
`;
}
