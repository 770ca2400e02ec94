#!/usr/bin/env bash
# Hop latency with few and with very many live sessions in Redis: fills Redis with N session
# records and as many resume records (the real key layout: `<version>:<record>` strings of
# ~200 bytes, 1 h TTL), then runs the load driver against `sauti serve --redis` as shipped
# (no configuration file). Usage: benches/scale.sh [N...] (default: 1000 1000000).
# Needs redis-server, redis-cli, python3, and the harness in BENCH_DIR (../shared/bench).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
CONCURRENCY=${CONCURRENCY:-50}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
SIZES=${*:-1000 1000000}
RUN=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { [ -n "${SAUTI_PID:-}" ] && kill "$SAUTI_PID" 2>/dev/null || true; redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$RUN"; }
trap cleanup EXIT
# The same build as compare.sh (the example shares its features: no second build of the dependencies).
(cd "$ROOT" && cargo build --release --locked -q --bin sauti --example limit_sauti)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --dir "$RUN" >/dev/null
echo "| live sessions in Redis | hops/s | p50 ms | p90 ms | p99 ms | bad | errors | used_memory |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $SIZES; do
  redis-cli -p "$PORT" flushall >/dev/null
  python3 - "$n" <<'PY' | redis-cli -p "$PORT" --pipe >/dev/null
import os, sys
n = int(sys.argv[1]); out = sys.stdout.buffer
def cmd(*parts):
    out.write(b"*%d\r\n" % len(parts))
    for p in parts:
        out.write(b"$%d\r\n%s\r\n" % (len(p), p))
value = os.urandom(200)
for i in range(n):
    tag = b"%032x" % (i * 2654435761 % (1 << 128))
    key = b"sauti:{" + tag + b"}:s:africastalking:fill-%d" % i
    cmd(b"SET", key, b"1:" + value, b"PX", b"3600000")
    # The resume record names the session holding the survey and its response id.
    holder = b"#%d:%s%032x" % (len(key), key, i)
    cmd(b"SET", b"sauti:{" + tag + b"}:r:bench", holder + value, b"PX", b"3600000")
PY
  SAUTI_PSEUDONYM_KEY=scale-key-0123456789abcdef "$ROOT/target/release/sauti" serve \
    --listen "127.0.0.1:$SPORT" --flows "$ROOT/benches/flows" --locales "$ROOT/benches/locales" \
    --data-dir "$RUN/data-$n" --redis "redis://127.0.0.1:$PORT" >"$RUN/sauti-$n.log" 2>&1 &
  SAUTI_PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$SPORT/healthz" && break; sleep 0.1; done
  line=$(cd "$BENCH_DIR" && ./loadgen-wrk.sh "http://127.0.0.1:$SPORT/ussd/africastalking" "$CONCURRENCY" "$DURATION" "$WARMUP" | grep LOADGEN-WRK)
  mem=$(redis-cli -p "$PORT" info memory | grep '^used_memory_human' | cut -d: -f2 | tr -d '\r')
  kill "$SAUTI_PID"; wait "$SAUTI_PID" 2>/dev/null || true; SAUTI_PID=
  python3 - "$n" "$mem" "$line" <<'PY'
import json, sys
n, mem, line = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.loads(line.split("LOADGEN-WRK", 1)[1])
l = d["latency_ms"]
print(f"| {int(n):,} | {d['hops_per_s']:,.0f} | {l['p50']:.2f} | {l['p90']:.2f} | {l['p99']:.2f} | {d['bad_responses']} | {d['transport_errors']} | {mem} |")
PY
done
