// End-to-end proof of the shipped dashboards, rules and Alertmanager routing
// against the real things (run by .ci/observability.sh):
//
// 1. `driftgauge demo` runs the whole engine on librdkafka's mock cluster; its
//    stream drifts after --drift-after-secs.
// 2. A real Alertmanager (loopback, no gossip) runs alerting/alertmanager/
//    alertmanager.yml with one difference: its two receiver URLs point at this
//    script's HTTP listener on 127.0.0.1 (a free port) instead of the example
//    endpoints. Alertmanager 0.25 (Debian's) has no `url_file` for webhooks, so
//    the URLs are replaced in a derived copy; the replacement must hit each
//    shipped URL exactly once. Everything else (routes, grouping, group_wait)
//    is as shipped.
// 3. A real Prometheus (loopback) scrapes the engine every second and evaluates
//    the shipped rule files, unchanged, every second, sending to that
//    Alertmanager. (The shipped alerting/prometheus/prometheus.yml differs only
//    in the 15 s intervals and the fixed ports, which this run cannot assume free.)
// 4. The shipped DriftgaugeFeatureDrift rule (for: 1m) must fire and reach the
//    listener through the model-owners route with its model, version, feature
//    and statistic labels intact and its annotations rendered.
// 5. Every dashboard query, template variables filled in the way Grafana would
//    (each query variable's own label_values query, evaluated through the API),
//    must return data through Prometheus's HTTP API; every rule must evaluate
//    without error.
//
// Environment: DRIFTGAUGE_BIN (default target/debug/driftgauge), PROMETHEUS_BIN
// (default prometheus), ALERTMANAGER_BIN (default alertmanager, else
// prometheus-alertmanager), E2E_TIMEOUT_SECS (default 170), E2E_KEEP=1 keeps the
// work directory. Exits non-zero, naming every failure, if anything is wrong.

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import {
  ROOT, dashboardQueries, loadDashboards, metricNames, parseLabelValues, optionalMetrics,
  PROMETHEUS_SERIES, regexEscape, ruleExprs, substitute,
} from './lib.mjs';

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const log = (message) => console.log(`[e2e ${elapsed()}] ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_SECS || 170) * 1000;

const SHIPPED_AM = path.join(ROOT, 'alerting', 'alertmanager', 'alertmanager.yml');
const SHIPPED_URLS = {
  'model-owners': 'http://127.0.0.1:8080/driftgauge/model-alerts',
  'driftgauge-oncall': 'http://127.0.0.1:8081/driftgauge/oncall',
};

function which(name) {
  return spawnSync('sh', ['-c', `command -v "${name}"`], { encoding: 'utf8' }).stdout.trim();
}

function binary(envName, candidates) {
  // Children run in the work directory: a relative path is made absolute first.
  const given = process.env[envName];
  if (given) return given.includes('/') ? path.resolve(given) : given;
  for (const candidate of candidates) {
    const found = path.isAbsolute(candidate) ? (fs.existsSync(candidate) ? candidate : '') : which(candidate);
    if (found) return found;
  }
  throw new Error(`none of ${candidates.join(', ')} found; set ${envName}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const children = [];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'driftgauge-e2e-'));

function start(name, command, args) {
  const out = fs.openSync(path.join(work, `${name}.log`), 'w');
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', out], cwd: work });
  const record = { name, child, stdout: '', exited: null };
  child.stdout.on('data', (chunk) => {
    record.stdout += chunk;
    fs.appendFileSync(path.join(work, `${name}.log`), chunk);
  });
  child.on('exit', (code, signal) => { record.exited = { code, signal }; });
  child.on('error', (e) => { record.exited = { error: e.message }; });
  children.push(record);
  return record;
}

function logTail(name, lines = 30) {
  const file = path.join(work, `${name}.log`);
  if (!fs.existsSync(file)) return '';
  return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

async function stopAll() {
  for (const { child, exited } of children) if (!exited) child.kill('SIGTERM');
  const deadline = Date.now() + 10_000;
  while (children.some((c) => !c.exited) && Date.now() < deadline) await sleep(100);
  for (const { child, exited } of children) if (!exited) child.kill('SIGKILL');
}

async function getJson(url) {
  const response = await fetch(url);
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url}: HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (!response.ok || body.status === 'error') {
    throw new Error(`${url}: HTTP ${response.status}: ${body.errorType || ''} ${body.error || text.slice(0, 300)}`);
  }
  return body;
}

async function waitFor(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    for (const c of children) {
      if (c.exited) throw new Error(`${c.name} exited (${JSON.stringify(c.exited)}) while waiting for ${what}:\n${logTail(c.name)}`);
    }
    try {
      const value = await probe();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
}

// -------------------------------------------------------------------- listener

const notifications = [];
const listener = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    let json = null;
    try { json = JSON.parse(body); } catch { /* kept as null: reported below */ }
    notifications.push({ path: req.url, json, body });
    res.writeHead(200).end();
  });
});

async function main() {
  const failures = [];
  const engineBin = binary('DRIFTGAUGE_BIN', [path.join(ROOT, 'target', 'debug', 'driftgauge')]);
  const prometheusBin = binary('PROMETHEUS_BIN', ['prometheus']);
  const alertmanagerBin = binary('ALERTMANAGER_BIN', ['alertmanager', 'prometheus-alertmanager']);
  log(`work directory ${work}`);

  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const listenerUrl = `http://127.0.0.1:${listener.address().port}`;
  log(`listener on ${listenerUrl}`);

  // Alertmanager: the shipped configuration, receiver URLs pointed at the listener.
  let amConfig = fs.readFileSync(SHIPPED_AM, 'utf8');
  for (const [receiver, url] of Object.entries(SHIPPED_URLS)) {
    const count = amConfig.split(url).length - 1;
    if (count !== 1) throw new Error(`${SHIPPED_AM}: expected the ${receiver} URL ${url} exactly once, found ${count}`);
    amConfig = amConfig.replace(url, `${listenerUrl}/${receiver}`);
  }
  fs.writeFileSync(path.join(work, 'alertmanager.yml'), amConfig);
  const amPort = await freePort();
  const amUrl = `http://127.0.0.1:${amPort}`;
  start('alertmanager', alertmanagerBin, [
    `--config.file=${path.join(work, 'alertmanager.yml')}`,
    `--storage.path=${path.join(work, 'alertmanager-data')}`,
    `--web.listen-address=127.0.0.1:${amPort}`,
    '--cluster.listen-address=',
  ]);

  // The engine on the demo stream. A webhook receiver is passed when this
  // build's demo has --webhook, so the retraining metrics have series too.
  const help = spawnSync(engineBin, ['demo', '--help'], { encoding: 'utf8' });
  if (help.status !== 0) throw new Error(`${engineBin} demo --help failed:\n${help.stderr}`);
  const demoArgs = ['demo', '--metrics-address', '127.0.0.1:0', '--window-secs', '5',
    '--drift-after-secs', '10', '--rate', '200', '--duration-secs', String(Math.ceil(TIMEOUT_MS / 1000) + 60)];
  if (help.stdout.includes('--webhook')) demoArgs.push('--webhook', `${listenerUrl}/retrain`);
  const demo = start('demo', engineBin, demoArgs);
  const metricsAddress = await waitFor('the demo to print its metrics address', async () => {
    const m = demo.stdout.match(/Metrics: http:\/\/([0-9.]+:[0-9]+)\/metrics/);
    return m && m[1];
  }, 60_000);
  log(`engine serves http://${metricsAddress}/metrics (${engineBin} ${demoArgs.join(' ')})`);

  // Prometheus: the shipped rule files, unchanged, 1 s scrape and evaluation.
  const ruleFiles = [...new Set(ruleExprs().map((r) => r.file))];
  const promPort = await freePort();
  const promUrl = `http://127.0.0.1:${promPort}`;
  const promConfig = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
    scrape_configs: [{ job_name: 'driftgauge', static_configs: [{ targets: [metricsAddress] }] }],
  };
  fs.writeFileSync(path.join(work, 'prometheus.yml'), JSON.stringify(promConfig, null, 2));
  start('prometheus', prometheusBin, [
    `--config.file=${path.join(work, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(work, 'prometheus-data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);

  await waitFor('Alertmanager to be ready', async () => (await fetch(`${amUrl}/-/ready`)).ok, 30_000);
  await waitFor('Prometheus to be ready', async () => (await fetch(`${promUrl}/-/ready`)).ok, 30_000);
  await waitFor('Prometheus to scrape the engine', async () => {
    const targets = await getJson(`${promUrl}/api/v1/targets`);
    return targets.data.activeTargets.some((t) => t.health === 'up');
  }, 30_000);
  log(`Prometheus ${promUrl} scrapes the engine; Alertmanager ${amUrl}`);

  // The shipped drift rule fires and reaches the listener through the model-owners route.
  const delivered = await waitFor('a DriftgaugeFeatureDrift notification at the listener', async () => {
    for (const n of notifications) {
      if (n.path !== '/model-owners' || !n.json) continue;
      const alert = (n.json.alerts || []).find(
        (a) => a.status === 'firing' && a.labels?.alertname === 'DriftgaugeFeatureDrift',
      );
      if (alert) return { notification: n.json, alert };
    }
    return null;
  }, Math.max(TIMEOUT_MS - (Date.now() - started), 10_000)).catch((e) => {
    const got = notifications.map((n) => `${n.path} (receiver ${n.json?.receiver}: ${(n.json?.alerts || []).map((a) => `${a.labels?.alertname} ${a.status}`).join(', ')})`);
    throw new Error(`${e.message}; the listener got ${got.length ? got.join('; ') : 'nothing'}`);
  });
  const { alert, notification } = delivered;
  log(`delivered to ${notification.receiver}: ${JSON.stringify(alert.labels)}`);
  log(`  description: ${alert.annotations?.description}`);
  const expect = (ok, message) => { if (!ok) failures.push(message); };
  expect(notification.receiver === 'model-owners', `drift alert went to receiver ${notification.receiver}, not model-owners`);
  for (const label of ['model', 'version', 'feature', 'statistic']) {
    expect(typeof alert.labels[label] === 'string' && alert.labels[label] !== '', `drift alert lacks the ${label} label: ${JSON.stringify(alert.labels)}`);
  }
  expect(['credit', 'churn'].includes(alert.labels.model), `drift alert names model ${alert.labels.model}, not one of the demo's`);
  expect(alert.labels.category === 'drift' && alert.labels.severity === 'warning', `drift alert routing labels wrong: ${JSON.stringify(alert.labels)}`);
  // The labels are the engine's: the same feature is drifting in Prometheus.
  const sel = `model="${alert.labels.model}",version="${alert.labels.version}",feature="${alert.labels.feature}",statistic="${alert.labels.statistic}"`;
  const drifted = await getJson(`${promUrl}/api/v1/query?query=${encodeURIComponent(`max_over_time(driftgauge_drift_detected{${sel}}[5m])`)}`);
  expect(drifted.data.result.some((r) => r.value[1] === '1'), `Prometheus has no drift for the delivered labels ${sel}`);
  const description = alert.annotations?.description || '';
  expect(description.includes(alert.labels.feature) && /threshold \d/.test(description),
    `drift alert description not rendered with the feature and threshold: ${JSON.stringify(description)}`);
  const oncall = notifications.filter((n) => n.path === '/driftgauge-oncall');
  if (oncall.length) log(`NOTE the on-call receiver got ${oncall.length} notification(s): ${oncall.map((n) => n.json?.groupLabels?.alertname).join(', ')}`);

  // Every rule evaluates cleanly.
  const rules = await getJson(`${promUrl}/api/v1/rules`);
  let ruleCount = 0;
  for (const group of rules.data.groups) {
    for (const rule of group.rules) {
      ruleCount += 1;
      if (rule.health !== 'ok') failures.push(`rule ${rule.name} (${group.name}) health ${rule.health}: ${rule.lastError}`);
    }
  }
  log(`${ruleCount} rules loaded, all evaluated without error: ${failures.length === 0}`);

  // Every dashboard query returns data.
  const exposition = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  // The exposition follows Prometheus's naming and format conventions.
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (lint.status !== 0) failures.push(`promtool check metrics on /metrics: ${lint.stdout}${lint.stderr}`);
  else log('promtool check metrics: the exposition is clean');
  // Series names the engine exports, and those whose every sample is 0.
  const exported = new Set();
  const nonZero = new Set();
  for (const line of exposition.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const name = line.split(/[{ ]/)[0];
    exported.add(name);
    if (Number(line.trim().split(/\s+/).pop()) !== 0) nonZero.add(name);
  }
  const pending = optionalMetrics();
  const skipped = [];
  const failuresBefore = failures.length;
  let checked = 0;
  const rangeStart = started / 1000;
  for (const dashboard of loadDashboards()) {
    const values = await fillVariables(promUrl, dashboard);
    log(`${dashboard.name}: variables ${JSON.stringify(values)}`);
    for (const q of dashboardQueries(dashboard)) {
      if (q.variable) continue;
      checked += 1;
      const expr = substitute(q.expr, values, q.where);
      const now = Date.now() / 1000;
      let result;
      try {
        result = q.instant
          ? (await getJson(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}&time=${now}`)).data.result
          : (await getJson(`${promUrl}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${rangeStart}&end=${now}&step=2`)).data.result;
      } catch (e) {
        failures.push(`${q.where}: ${e.message}`);
        continue;
      }
      const hasData = result.some((r) => (r.values ? r.values.length > 0 : r.value !== undefined));
      if (hasData) continue;
      const absent = metricNames(expr).filter((n) => !exported.has(n) && !PROMETHEUS_SERIES.has(n));
      // A metric of optional-metrics.txt that the demo does not exercise (no
      // series, or only zeros such as a checkpoint time when nothing is
      // checkpointed) may leave its query empty: listed, not failed.
      const idle = metricNames(expr).filter((n) => pending.has(n) && !nonZero.has(n));
      if (absent.every((n) => pending.has(n)) && idle.length) {
        skipped.push(`${q.where}: no data; the demo run exercises no ${idle.join(', ')} (optional-metrics.txt)`);
      } else {
        failures.push(`${q.where}: no data for ${expr}${absent.length ? ` (the engine exports no ${absent.join(', ')})` : ''}`);
      }
    }
  }
  const empty = failures.length - failuresBefore;
  log(`${checked} dashboard queries evaluated through ${promUrl}/api/v1: ${checked - skipped.length - empty} returned data, ${skipped.length} skipped, ${empty} failed`);
  for (const s of skipped) log(`SKIPPED ${s}`);
  return failures;
}

/** Grafana's way: each query variable's label_values query, in order, through the API. */
async function fillVariables(promUrl, { name, json }) {
  const values = {};
  for (const variable of json.templating?.list || []) {
    if (variable.type === 'datasource') {
      values[variable.name] = 'driftgauge-prometheus';
    } else if (variable.type === 'textbox' || variable.type === 'constant' || variable.type === 'custom') {
      values[variable.name] = String(variable.current?.value ?? variable.query);
    } else if (variable.type === 'query') {
      const { selector, label } = parseLabelValues(variable.query);
      const match = selector ? `?match[]=${encodeURIComponent(substitute(selector, values, `${name}: variable ${variable.name}`))}` : '';
      const found = (await getJson(`${promUrl}/api/v1/label/${label}/values${match}`)).data;
      if (found.length === 0) throw new Error(`${name}: variable ${variable.name} has no values (${JSON.stringify(variable.query)})`);
      const current = variable.current?.value;
      if (variable.includeAll && (current === '$__all' || (Array.isArray(current) && current.includes('$__all')))) {
        values[variable.name] = `(${found.map(regexEscape).join('|')})`;
      } else if (typeof current === 'string' && found.includes(current)) {
        values[variable.name] = current;
      } else {
        values[variable.name] = variable.multi ? regexEscape(found[0]) : found[0];
      }
    } else {
      throw new Error(`${name}: variable ${variable.name} of type ${variable.type} is not supported by the e2e`);
    }
  }
  return values;
}

let failures;
try {
  failures = await main();
} catch (e) {
  failures = [e.message];
}
await stopAll();
listener.close();
if (failures.length) {
  console.error(`\ne2e FAILED (${failures.length}):`);
  for (const f of failures) console.error(`- ${f}`);
  for (const name of ['demo', 'prometheus', 'alertmanager']) {
    console.error(`\n--- ${name} log (last lines; all in ${work}) ---\n${logTail(name)}`);
  }
  process.exit(1);
}
if (process.env.E2E_KEEP !== '1') fs.rmSync(work, { recursive: true, force: true });
log('dashboards, rules and routing proven end to end');
