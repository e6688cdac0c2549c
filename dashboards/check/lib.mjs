// Shared by check.mjs and e2e.mjs: where the shipped files are, the queries in
// them, the metric names those queries use, and the engine's metric catalogue.
//
// Dependencies (`yaml`, `typescript`, `@grafana/schema`) are installed with
// `npm ci` into DRIFTGAUGE_NPM_DIR (default ~/.cache/driftgauge/npm) rather than
// into the clone, so no node_modules lands in dashboards/ (which Grafana reads).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NPM_DIR =
  process.env.DRIFTGAUGE_NPM_DIR || path.join(os.homedir(), '.cache', 'driftgauge', 'npm');
export const DASHBOARD_DIR = path.join(ROOT, 'dashboards', 'grafana');
export const RULES_DIR = path.join(ROOT, 'alerting', 'rules');
export const METRICS_RS = path.join(ROOT, 'engine', 'src', 'observe', 'metrics.rs');
export const OPTIONAL_FILE = path.join(ROOT, 'dashboards', 'check', 'optional-metrics.txt');

const requireFromNpm = createRequire(path.join(NPM_DIR, 'package.json'));

/** The `yaml` package from the npm cache directory. */
export function yaml() {
  try {
    return requireFromNpm('yaml');
  } catch (e) {
    throw new Error(`cannot load the yaml package from ${NPM_DIR} (run .ci/observability.sh, which runs npm ci there): ${e.message}`);
  }
}

/** Every dashboard: [{ file, name, json }], sorted by file name. */
export function loadDashboards() {
  const files = fs.readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) throw new Error(`no dashboards in ${DASHBOARD_DIR}`);
  return files.map((file) => {
    const full = path.join(DASHBOARD_DIR, file);
    let json;
    try {
      json = JSON.parse(fs.readFileSync(full, 'utf8'));
    } catch (e) {
      throw new Error(`${full}: not valid JSON: ${e.message}`);
    }
    return { file: full, name: path.basename(file, '.json'), json };
  });
}

/** Every rule file under alerting/rules (not its tests/): [{ file, groups }]. */
export function loadRuleFiles() {
  const files = fs.readdirSync(RULES_DIR).filter((f) => /\.ya?ml$/.test(f)).sort();
  if (files.length === 0) throw new Error(`no rule files in ${RULES_DIR}`);
  return files.map((f) => {
    const file = path.join(RULES_DIR, f);
    const doc = yaml().parse(fs.readFileSync(file, 'utf8'));
    if (!doc || !Array.isArray(doc.groups)) throw new Error(`${file}: no \`groups:\` list`);
    return { file, groups: doc.groups };
  });
}

/** Every alerting or recording rule: [{ file, group, name, expr }]. */
export function ruleExprs() {
  const out = [];
  for (const { file, groups } of loadRuleFiles()) {
    for (const group of groups) {
      for (const rule of group.rules || []) {
        out.push({ file, group: group.name, name: rule.alert || rule.record, expr: String(rule.expr) });
      }
    }
  }
  return out;
}

/** Panels, rows' children included. */
export function panelsOf(dashboard) {
  const out = [];
  for (const panel of dashboard.panels || []) {
    out.push(panel);
    if (panel.type === 'row') out.push(...(panel.panels || []));
  }
  return out;
}

/**
 * Every Prometheus query of a dashboard: panel targets and query variables.
 * [{ where, panel, target, variable, expr, instant }]
 */
export function dashboardQueries({ name, json }) {
  const out = [];
  for (const panel of panelsOf(json)) {
    for (const target of panel.targets || []) {
      if (typeof target.expr !== 'string' || target.expr.trim() === '') {
        throw new Error(`${name}: panel ${panel.id} "${panel.title}" target ${target.refId}: no expr`);
      }
      out.push({
        where: `${name}: panel ${panel.id} "${panel.title}" target ${target.refId}`,
        panel,
        target,
        expr: target.expr,
        instant: target.instant === true,
      });
    }
  }
  for (const variable of json.templating?.list || []) {
    if (variable.type !== 'query') continue;
    const parsed = parseLabelValues(variable.query);
    if (!parsed) throw new Error(`${name}: variable ${variable.name}: unsupported query ${JSON.stringify(variable.query)}`);
    if (parsed.selector) {
      out.push({ where: `${name}: variable ${variable.name}`, variable, expr: parsed.selector, instant: true });
    }
  }
  return out;
}

/** `label_values(selector, label)` or `label_values(label)`. */
export function parseLabelValues(query) {
  const text = typeof query === 'string' ? query : query?.query;
  if (typeof text !== 'string') return null;
  let m = text.match(/^\s*label_values\(\s*(.+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s);
  if (m) return { selector: m[1].trim(), label: m[2] };
  m = text.match(/^\s*label_values\(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/);
  if (m) return { selector: null, label: m[1] };
  return null;
}

/** Grafana's built-in interval variables, as the checks fill them in. */
export const BUILTINS = { __rate_interval: '1m', __interval: '15s', __range: '5m' };

/**
 * Replaces `$name`, `${name}` and `[[name]]` with `values[name]` (built-ins
 * included). An unknown variable is an error naming the query.
 */
export function substitute(expr, values, where) {
  const all = { ...BUILTINS, ...values };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (m, a, b, c) => {
    const name = a || b || c;
    if (!(name in all)) throw new Error(`${where}: unknown template variable $${name}`);
    return all[name];
  });
}

const KEYWORDS = new Set([
  'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
  'bool', 'offset', 'inf', 'nan', 'start', 'end',
]);

/**
 * Metric names a PromQL expression reads. Strings, label matchers, ranges and
 * label lists are removed first; what is left that is neither a function call,
 * a keyword nor a number is a metric name. (promtool proves the expression
 * parses; this only needs to find the names.)
 */
export function metricNames(expr) {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ');
  s = s.replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set();
  for (const m of s.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w])(\s*\()?/g)) {
    const [, word, call] = m;
    if (call || KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names].sort();
}

/** Series Prometheus itself writes, which a query may read. */
export const PROMETHEUS_SERIES = new Set(['ALERTS', 'ALERTS_FOR_STATE', 'up']);

/**
 * The engine's catalogue, read from engine/src/observe/metrics.rs: every
 * `"driftgauge_..."` name, and for histograms their `_bucket`, `_sum` and
 * `_count` series. Returns { series: Set, families: Set }.
 */
export function catalogue() {
  const source = fs.readFileSync(METRICS_RS, 'utf8');
  const families = new Set([...source.matchAll(/"(driftgauge_[a-z0-9_]+)"/g)].map((m) => m[1]));
  const histograms = new Set(
    [...source.matchAll(/HistogramOpts::new\(\s*"(driftgauge_[a-z0-9_]+)"/g)].map((m) => m[1]),
  );
  const series = new Set();
  for (const family of families) {
    if (histograms.has(family)) {
      for (const suffix of ['_bucket', '_sum', '_count']) series.add(family + suffix);
    } else {
      series.add(family);
    }
  }
  return { series, families, histograms };
}

/**
 * Metrics that may be missing from metrics.rs (work in progress) or idle in
 * the demo (optional-metrics.txt): series name -> family. Histogram entries
 * stand for their `_bucket`, `_sum` and `_count` series.
 */
export function optionalMetrics() {
  const out = new Map();
  for (const line of fs.readFileSync(OPTIONAL_FILE, 'utf8').split('\n')) {
    const text = line.replace(/#.*/, '').trim();
    if (!text) continue;
    const [name, kind] = text.split(/\s+/);
    if (kind === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) out.set(name + suffix, name);
    } else {
      out.set(name, name);
    }
  }
  return out;
}

/**
 * Escapes a label value for a PromQL regex matcher inside double quotes, as
 * Grafana's Prometheus datasource does: two backslashes in the string literal
 * make one in the regex.
 */
export function regexEscape(value) {
  return value.replace(/[\\^$*+?.()|[\]{}]/g, '\\\\$&');
}
