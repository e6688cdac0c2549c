// Static checks of the shipped dashboards and alert rules (run by .ci/observability.sh):
//
// 1. Every dashboard type-checks against Grafana's published schema: each
//    dashboard, each panel's options and custom field config (by panel type)
//    and each Prometheus target become a TypeScript object literal checked with
//    `satisfies` against the @grafana/schema types, so a misspelt or unknown
//    field, a wrong enum value or a missing required field fails `tsc`.
// 2. Every PromQL expression parses: each dashboard query (template variables
//    filled in) becomes a recording rule in a generated rules file that
//    `promtool check rules` must accept.
// 3. Every metric that a dashboard or rule reads is in the engine's catalogue
//    (engine/src/observe/metrics.rs); names listed in optional-metrics.txt are reported
//    (PENDING) instead while work in progress adds them.
//
// 4. dashboards/README.md (panel -> metrics) is up to date.
//
// Usage: node dashboards/check/check.mjs [--write-readme]   (PROMTOOL=path overrides `promtool`)
// Exits non-zero, naming every problem, if any check fails.

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  NPM_DIR, ROOT, catalogue, dashboardQueries, loadDashboards, metricNames, panelsOf,
  optionalMetrics, PROMETHEUS_SERIES, ruleExprs, substitute, yaml,
} from './lib.mjs';

const problems = [];
const fail = (message) => problems.push(message);

// ---------------------------------------------------------------------------
// 1. Schema.

// Panel types and the @grafana/schema module describing their options.
const PANEL_SCHEMAS = {
  timeseries: 'timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen',
  stat: 'stat/panelcfg/x/StatPanelCfg_types.gen',
  table: 'table/panelcfg/x/TablePanelCfg_types.gen',
  heatmap: 'heatmap/panelcfg/x/HeatmapPanelCfg_types.gen',
  statetimeline: 'statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen',
  bargauge: 'bargauge/panelcfg/x/BarGaugePanelCfg_types.gen',
  gauge: 'gauge/panelcfg/x/GaugePanelCfg_types.gen',
  statushistory: 'statushistory/panelcfg/x/StatusHistoryPanelCfg_types.gen',
  text: 'text/panelcfg/x/TextPanelCfg_types.gen',
};

// The schema's enums are TypeScript enums, which a JSON string or number can
// never be; Jsonify<T> turns each enum into the union of its values and
// recurses, keeping optional and required fields as they are.
const SUPPORT = `import type { DataQuery } from '@grafana/schema';

type Literal<T> = T extends string
  ? \`\${T}\`
  : T extends number
    ? (\`\${T}\` extends \`\${infer N extends number}\` ? N : number)
    : T;

export type Jsonify<T> = T extends string | number | boolean | null | undefined
  ? Literal<T>
  : T extends ReadonlyArray<infer U>
    ? Array<Jsonify<U>>
    : T extends object
      ? { [K in keyof T]: Jsonify<T[K]> }
      : T;

// The Prometheus query model: @grafana/schema publishes only the common part
// (DataQuery); these are the fields Grafana's Prometheus datasource reads.
export interface PrometheusQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  exemplar?: boolean;
  format?: 'time_series' | 'table' | 'heatmap';
  interval?: string;
  intervalFactor?: number;
  editorMode?: 'code' | 'builder';
}
`;

function typeCheck(dashboards) {
  const dir = path.join(NPM_DIR, 'generated');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'support.ts'), SUPPORT);
  const lit = (value) => JSON.stringify(value, null, 2);
  const sources = {};
  for (const { name, json } of dashboards) {
    const imports = new Set();
    const lines = [];
    lines.push(`export const dashboard = ${lit(json)} satisfies Jsonify<Dashboard>;`);
    for (const panel of panelsOf(json)) {
      const id = `panel_${panel.id}`;
      if (panel.type === 'row') {
        lines.push(`export const ${id} = ${lit(panel)} satisfies Jsonify<RowPanel>;`);
        continue;
      }
      const schema = PANEL_SCHEMAS[panel.type];
      if (!schema) {
        fail(`${name}: panel ${panel.id} "${panel.title}": no schema known for panel type "${panel.type}" (add it to PANEL_SCHEMAS in check.mjs)`);
        continue;
      }
      const alias = panel.type.replace(/[^a-z]/g, '');
      // Some panels (stat) publish options but no custom field config.
      const declarations = fs.readFileSync(
        path.join(NPM_DIR, 'node_modules', '@grafana', 'schema', 'dist', 'types', 'raw', 'composable', `${schema.replace(/\/[^/]*$/, '')}/types.gen.d.ts`),
        'utf8',
      );
      if (/export interface FieldConfig\b/.test(declarations)) {
        imports.add(`import type { Options as ${alias}Options, FieldConfig as ${alias}FieldConfig } from '@grafana/schema/dist/esm/raw/composable/${schema}';`);
      } else {
        imports.add(`import type { Options as ${alias}Options } from '@grafana/schema/dist/esm/raw/composable/${schema}';`);
        imports.add(`type ${alias}FieldConfig = Record<string, never>;`);
      }
      lines.push(`export const ${id} = ${lit(panel)} satisfies Jsonify<Panel<${alias}Options, ${alias}FieldConfig>>;`);
      lines.push(`export const ${id}_options = ${lit(panel.options ?? {})} satisfies Jsonify<${alias}Options>;`);
      const custom = panel.fieldConfig?.defaults?.custom;
      if (custom !== undefined) {
        lines.push(`export const ${id}_custom = ${lit(custom)} satisfies Jsonify<${alias}FieldConfig>;`);
      }
      (panel.targets || []).forEach((target, i) => {
        lines.push(`export const ${id}_target_${i} = ${lit(target)} satisfies Jsonify<PrometheusQuery>;`);
      });
    }
    const header = [
      `// Generated by dashboards/check/check.mjs from dashboards/grafana/${name}.json.`,
      `import type { Dashboard, Panel, RowPanel } from '@grafana/schema';`,
      `import type { Jsonify, PrometheusQuery } from './support';`,
      ...imports,
    ];
    const file = `${name.replace(/[^a-zA-Z0-9]/g, '_')}.ts`;
    sources[file] = name;
    fs.writeFileSync(path.join(dir, file), [...header, '', ...lines, ''].join('\n'));
  }
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, target: 'es2022', module: 'esnext', moduleResolution: 'bundler',
      skipLibCheck: true, exactOptionalPropertyTypes: false, noUncheckedIndexedAccess: false,
    },
    include: ['*.ts'],
  }, null, 2));
  const tsc = path.join(NPM_DIR, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], { encoding: 'utf8' });
  if (result.status !== 0) {
    const output = (result.stdout + result.stderr).trim();
    fail(`dashboards do not type-check against @grafana/schema (generated sources in ${dir}):\n${output}`);
  } else {
    console.log(`schema: ${dashboards.length} dashboards type-check against @grafana/schema ${schemaVersion()}`);
  }
}

function schemaVersion() {
  const pkg = path.join(NPM_DIR, 'node_modules', '@grafana', 'schema', 'package.json');
  return JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
}

// ---------------------------------------------------------------------------
// 2. PromQL parses.

// Values for the static parse: any syntactically plausible value will do.
function placeholderValues(json) {
  const values = {};
  for (const v of json.templating?.list || []) {
    values[v.name] = v.multi || v.includeAll ? '.*' : (v.type === 'textbox' ? String(v.query) : 'x');
  }
  return values;
}

function promqlParses(dashboards) {
  const rules = [];
  const origin = new Map();
  for (const dashboard of dashboards) {
    const values = placeholderValues(dashboard.json);
    dashboardQueries(dashboard).forEach((q, i) => {
      let expr;
      try {
        expr = substitute(q.expr, values, q.where);
      } catch (e) {
        fail(e.message);
        return;
      }
      const record = `dashboard_check:${dashboard.name.replace(/[^a-zA-Z0-9]/g, '_')}:q${i}`;
      origin.set(record, q.where);
      rules.push({ record, expr });
    });
  }
  const file = path.join(NPM_DIR, 'generated', 'dashboard-queries.rules.yml');
  fs.writeFileSync(file, yaml().stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
  const promtool = process.env.PROMTOOL || 'promtool';
  const result = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
  if (result.error) throw new Error(`cannot run ${promtool}: ${result.error.message}`);
  if (result.status !== 0) {
    let output = (result.stdout + result.stderr).trim();
    for (const [record, where] of origin) output = output.replaceAll(record, `${record} (${where})`);
    fail(`dashboard queries do not parse (promtool check rules ${file}):\n${output}`);
  } else {
    console.log(`promql: ${rules.length} dashboard queries parse (promtool check rules)`);
  }
}

// ---------------------------------------------------------------------------
// 3. Metrics exist.

function metricsExist(dashboards) {
  const { series } = catalogue();
  const pending = optionalMetrics();
  const uses = [];
  for (const dashboard of dashboards) {
    const values = placeholderValues(dashboard.json);
    for (const q of dashboardQueries(dashboard)) {
      for (const name of metricNames(substitute(q.expr, values, q.where))) uses.push({ name, where: q.where });
    }
  }
  for (const rule of ruleExprs()) {
    for (const name of metricNames(rule.expr)) {
      uses.push({ name, where: `${path.relative(process.cwd(), rule.file)}: ${rule.name}` });
    }
  }
  const missingPending = new Map();
  let checked = 0;
  for (const { name, where } of uses) {
    checked += 1;
    if (series.has(name) || PROMETHEUS_SERIES.has(name)) continue;
    if (pending.has(name)) {
      const family = pending.get(name);
      if (!missingPending.has(family)) missingPending.set(family, new Set());
      missingPending.get(family).add(where.split(':')[0]);
      continue;
    }
    fail(`${where}: metric ${name} is not exported by the engine (not in engine/src/observe/metrics.rs)`);
  }
  for (const [family, where] of missingPending) {
    console.log(`metrics: PENDING ${family} is not in engine/src/observe/metrics.rs yet (used by ${[...where].join(', ')})`);
  }
  console.log(`metrics: ${checked} metric uses checked against engine/src/observe/metrics.rs`);
}

// ---------------------------------------------------------------------------

function sanity(dashboards) {
  const uids = new Set();
  for (const { name, json } of dashboards) {
    if (!json.uid || uids.has(json.uid)) fail(`${name}: missing or duplicate uid ${json.uid}`);
    uids.add(json.uid);
    const ids = new Set();
    for (const panel of panelsOf(json)) {
      if (ids.has(panel.id)) fail(`${name}: duplicate panel id ${panel.id}`);
      ids.add(panel.id);
      for (const ref of [panel.datasource, ...(panel.targets || []).map((t) => t.datasource)]) {
        if (panel.type !== 'row' && (ref?.type !== 'prometheus' || ref?.uid !== '${datasource}')) {
          fail(`${name}: panel ${panel.id} "${panel.title}": datasource must be {type: prometheus, uid: \${datasource}}, got ${JSON.stringify(ref)}`);
        }
      }
      if (panel.type !== 'row' && (panel.targets || []).length === 0) fail(`${name}: panel ${panel.id} "${panel.title}" has no query`);
    }
  }
}

// ---------------------------------------------------------------------------
// 4. dashboards/README.md maps every panel to the metrics it reads; it is
//    generated (`node dashboards/check/check.mjs --write-readme`) and must match.

function panelMap(dashboards) {
  const lines = [
    '# Dashboards: panels and the metrics they read',
    '',
    'Generated by `node dashboards/check/check.mjs --write-readme`; the check fails when it is stale.',
    'What each panel answers is in [docs/dashboards.md](../docs/dashboards.md).',
    '',
  ];
  for (const dashboard of dashboards) {
    const values = placeholderValues(dashboard.json);
    lines.push(`## ${dashboard.json.title} (\`grafana/${dashboard.name}.json\`)`, '', '| panel | metrics |', '| --- | --- |');
    for (const panel of panelsOf(dashboard.json)) {
      if (panel.type === 'row') continue;
      const names = new Set();
      for (const target of panel.targets || []) {
        for (const name of metricNames(substitute(target.expr, values, dashboard.name))) names.add(name);
      }
      lines.push(`| ${panel.title} | ${[...names].sort().map((n) => `\`${n}\``).join(', ')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function readme(dashboards) {
  const file = path.join(ROOT, 'dashboards', 'README.md');
  const text = panelMap(dashboards);
  if (process.argv.includes('--write-readme')) {
    fs.writeFileSync(file, text);
    console.log(`readme: wrote ${file}`);
  } else if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
    fail(`${file} is stale: run node dashboards/check/check.mjs --write-readme`);
  } else {
    console.log('readme: dashboards/README.md matches the dashboards');
  }
}

const dashboards = loadDashboards();
sanity(dashboards);
readme(dashboards);
typeCheck(dashboards);
promqlParses(dashboards);
metricsExist(dashboards);
if (problems.length) {
  console.error(`\n${problems.length} problem(s):`);
  for (const p of problems) console.error(`- ${p}`);
  process.exit(1);
}
console.log('dashboards and rules: all static checks passed');
