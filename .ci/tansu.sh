#!/usr/bin/env bash
# The real-broker tests (tests/kafka_broker.rs) against Tansu, a Kafka-API
# broker: installs it into ~/.cache/driftgauge/tansu when missing, starts it
# on a free loopback port with in-memory storage, runs the tests with
# DRIFTGAUGE_TEST_BROKERS pointing at it, and stops it however the run ends.
#
#   bash .ci/tansu.sh          (.ci/run calls it; it also works on its own)
#
# Set TANSU to use another tansu binary.
set -euo pipefail
cd "$(dirname "$0")/.."

TANSU_VERSION="0.6.0"
CACHE="${HOME}/.cache/driftgauge"
TANSU="${TANSU:-$CACHE/tansu/bin/tansu}"
mkdir -p "$CACHE"

if [[ ! -x "$TANSU" ]]; then
    # A from-source build of about 20 minutes, once: the binary is cached.
    echo "ci: installing tansu $TANSU_VERSION into $CACHE/tansu"
    cargo install tansu --version "$TANSU_VERSION" --features dynostore --locked \
        --root "$CACHE/tansu"
fi

# A port that was free a moment ago (the kernel picks it).
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BROKER="127.0.0.1:$PORT"
LOG="$(mktemp -t tansu-XXXXXX.log)"

echo "ci: starting tansu on $BROKER (log: $LOG)"
"$TANSU" broker \
    --listener-url "tcp://$BROKER" \
    --advertised-listener-url "tcp://$BROKER" \
    --storage-engine "memory://tansu/" \
    >"$LOG" 2>&1 &
TANSU_PID=$!
stop_tansu() {
    kill "$TANSU_PID" 2>/dev/null || true
    wait "$TANSU_PID" 2>/dev/null || true
}
trap stop_tansu EXIT

# Wait until it accepts connections; give up if it exits or takes 60 s.
for _ in $(seq 1 600); do
    if ! kill -0 "$TANSU_PID" 2>/dev/null; then
        echo "ci: tansu exited before accepting connections:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        break
    fi
    sleep 0.1
done
if ! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "ci: tansu did not accept connections on $BROKER within 60 s:" >&2
    cat "$LOG" >&2
    exit 1
fi

echo "ci: real-broker tests against tansu"
# --workspace, not -p: the same feature set as `cargo test --workspace`, so
# nothing is compiled again.
if ! DRIFTGAUGE_TEST_BROKERS="$BROKER" cargo test --workspace -- --ignored kafka_broker::; then
    echo "ci: the real-broker tests failed; tansu's log:" >&2
    tail -n 50 "$LOG" >&2
    exit 1
fi
