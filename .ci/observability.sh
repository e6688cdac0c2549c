#!/usr/bin/env bash
# Checks the shipped observability files with the ecosystem's own tools, then
# proves them end to end (docs/development.md, "Observability checks"):
#   - promtool: the rule files and the example Prometheus config are valid, and
#     the rules' unit tests pass;
#   - amtool: the example Alertmanager config is valid, and each case of
#     alerting/alertmanager/routes.tests reaches its expected receiver;
#   - dashboards/check/check.mjs: every dashboard type-checks against
#     @grafana/schema, every dashboard query parses (promtool), every metric a
#     dashboard or rule reads is in the engine's catalogue;
#   - dashboards/check/e2e.mjs: `driftgauge demo`, a real Prometheus and a real
#     Alertmanager on loopback; every dashboard query returns data and a shipped
#     drift rule's alert reaches a local listener with its labels (about 100 s).
# Needs the Debian packages prometheus and prometheus-alertmanager, node and npm.
# npm packages go to ~/.cache/driftgauge/npm, never into the clone.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${HOME}/.cache/driftgauge"
NPM_DIR="$CACHE/npm"

missing=()
for tool in promtool amtool prometheus node npm; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
ALERTMANAGER_BIN="${ALERTMANAGER_BIN:-$(command -v alertmanager || command -v prometheus-alertmanager || true)}"
[[ -n "$ALERTMANAGER_BIN" ]] || missing+=("alertmanager (prometheus-alertmanager)")
if ((${#missing[@]})); then
    echo "observability: missing ${missing[*]}; on Debian: apt-get install --no-install-recommends prometheus prometheus-alertmanager nodejs npm" >&2
    exit 1
fi
export ALERTMANAGER_BIN DRIFTGAUGE_NPM_DIR="$NPM_DIR"

echo "observability: promtool check rules / config"
promtool check rules alerting/rules/*.rules.yml
promtool check config alerting/prometheus/prometheus.yml

echo "observability: promtool test rules"
promtool test rules alerting/rules/tests/*.test.yml

echo "observability: amtool check-config"
amtool check-config alerting/alertmanager/alertmanager.yml

echo "observability: amtool config routes test"
cases=0
while read -r receiver labels; do
    [[ -z "$receiver" || "$receiver" == \#* ]] && continue
    # shellcheck disable=SC2086 # one label=value a word
    if ! got=$(amtool config routes test --config.file=alerting/alertmanager/alertmanager.yml \
        --verify.receivers="$receiver" $labels 2>/dev/null); then
        echo "observability: {$labels} routes to '$got', expected '$receiver'" >&2
        exit 1
    fi
    cases=$((cases + 1))
done < alerting/alertmanager/routes.tests
((cases > 0)) || { echo "observability: no cases in alerting/alertmanager/routes.tests" >&2; exit 1; }
echo "observability: $cases routing cases reach their receivers"

echo "observability: npm ci (@grafana/schema, typescript, yaml) in $NPM_DIR"
mkdir -p "$NPM_DIR"
if ! cmp -s dashboards/check/package-lock.json "$NPM_DIR/package-lock.json" \
    || ! cmp -s dashboards/check/package.json "$NPM_DIR/package.json" \
    || [[ ! -d "$NPM_DIR/node_modules" ]]; then
    cp dashboards/check/package.json dashboards/check/package-lock.json "$NPM_DIR/"
    (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "observability: dashboards (schema, PromQL, metric names)"
node dashboards/check/check.mjs

echo "observability: end to end (engine demo, Prometheus, Alertmanager)"
# The whole workspace, all targets: the feature set `cargo test --workspace`
# already built, so only the binary is linked (-p would rebuild the graph).
cargo build --workspace --all-targets --locked --quiet
DRIFTGAUGE_BIN="${CARGO_TARGET_DIR:-target}/debug/driftgauge" node dashboards/check/e2e.mjs
