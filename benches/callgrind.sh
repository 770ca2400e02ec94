#!/usr/bin/env bash
# Instructions per hop, counted by callgrind: repeatable to the percent whatever else the
# machine does (wall-clock runs on a shared 2-core host move by ±10%). See benches/README.md.
#
#   benches/callgrind.sh sauti-embedded               # the server process, user space
#   benches/callgrind.sh sauti-redis --redis          # redis-server's instructions instead
#   DURATION=30 benches/callgrind.sh limit-sauti-deliver
#
# Targets: sauti-embedded, sauti-redis (as shipped: no configuration file), limit-sauti,
# limit-sauti-deliver, limit-sauti-embedded, limit-cas, limit-cas-deliver (examples/limit_sauti.rs).
# The measured process runs under `valgrind --tool=callgrind`; after a warm-up of WARMUP seconds
# its counters are zeroed, then CONCURRENCY connections walk whole surveys (6 hops each) with the
# harness's driver for DURATION seconds, and the counters are dumped: the total divided by the
# hops answered is the figure printed (what the process does between hops, a few timers, is
# counted in). With --redis, redis-server is the process under callgrind and the server runs
# normally.
# Env: BENCH_DIR (default <repo>/../shared/bench), CONCURRENCY (4), DURATION (20), WARMUP (5).
# Writes the callgrind output to target/callgrind/<target>[-redis].out.<pid>.<n>.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
TARGET=${1:?usage: $0 TARGET [--redis]}
ON_REDIS=no; [[ ${2:-} == --redis ]] && ON_REDIS=yes
CONCURRENCY=${CONCURRENCY:-4}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-5}
PSEUDONYM_KEY=bench-key-0123456789abcdef
OUT="$ROOT/target/callgrind"
mkdir -p "$OUT"
RUN=$(mktemp -d "$OUT/run.XXXXXX")
for cmd in valgrind callgrind_control wrk redis-server redis-cli python3; do
  command -v "$cmd" >/dev/null || { echo "missing $cmd (apt-get install -y valgrind wrk redis-server redis-tools)" >&2; exit 2; }
done

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
log() { echo "[callgrind] $*" >&2; }

(cd "$ROOT" && cargo build --release --locked -q --bin sauti --example limit_sauti)
SAUTI="$ROOT/target/release/sauti"
LIMIT_SAUTI="$ROOT/target/release/examples/limit_sauti"
GRIND=(valgrind --tool=callgrind --trace-children=no)

REDIS_PORT=$(free_port)
redis_cmd=(redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no)
name=$TARGET
if [[ $ON_REDIS == yes ]]; then
  name="$TARGET-redis"
  "${GRIND[@]}" --callgrind-out-file="$OUT/$name.out.%p" "${redis_cmd[@]}" >"$RUN/redis.log" 2>&1 &
else
  "${redis_cmd[@]}" >"$RUN/redis.log" 2>&1 &
fi
REDIS_PID=$!
PIDS+=("$REDIS_PID")
for _ in $(seq 1 300); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

PORT=$(free_port)
# `env` goes first: valgrind does not follow an exec (env's) into the server.
envs=(); server=()
case $TARGET in
  sauti-embedded)
    envs=(-u SAUTI_REDIS_URL -u SAUTI_CONFIG SAUTI_PSEUDONYM_KEY="$PSEUDONYM_KEY")
    server=("$SAUTI" serve --listen "127.0.0.1:$PORT" --flows "$ROOT/benches/flows"
      --locales "$ROOT/benches/locales" --data-dir "$RUN/data") ;;
  sauti-redis)
    envs=(-u SAUTI_CONFIG SAUTI_PSEUDONYM_KEY="$PSEUDONYM_KEY")
    server=("$SAUTI" serve --listen "127.0.0.1:$PORT" --flows "$ROOT/benches/flows"
      --locales "$ROOT/benches/locales" --data-dir "$RUN/data" --redis "$REDIS_URL"
      --redis-key-prefix sauti-bench) ;;
  limit-sauti|limit-sauti-deliver|limit-sauti-embedded|limit-cas|limit-cas-deliver)
    deliver=0; [[ $TARGET == *-deliver ]] && deliver=1
    store=redis; [[ $TARGET == limit-sauti-embedded ]] && store=memory; [[ $TARGET == limit-cas* ]] && store=cas
    envs=(PORT="$PORT" REDIS_URL="$REDIS_URL" LIMIT_DELIVER=$deliver LIMIT_STORE=$store
      LIMIT_DATA_DIR="$RUN/data")
    server=("$LIMIT_SAUTI") ;;
  *) echo "unknown target $TARGET" >&2; exit 2 ;;
esac
if [[ $ON_REDIS == yes ]]; then
  env "${envs[@]}" "${server[@]}" >"$RUN/server.log" 2>&1 &
else
  env "${envs[@]}" "${GRIND[@]}" --callgrind-out-file="$OUT/$name.out.%p" "${server[@]}" >"$RUN/server.log" 2>&1 &
fi
SERVER_PID=$!
PIDS+=("$SERVER_PID")
URL="http://127.0.0.1:$PORT/ussd/africastalking"
for _ in $(seq 1 600); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL" --data-urlencode sessionId=probe \
    --data-urlencode 'serviceCode=*384*1#' --data-urlencode phoneNumber=+243800000000 \
    --data-urlencode text= 2>/dev/null || true)
  [[ $code == 200 ]] && break
  sleep 0.2
done
[[ $code == 200 ]] || { echo "the server did not answer: $(tail -n 5 "$RUN/server.log")" >&2; exit 1; }

MEASURED=$SERVER_PID; [[ $ON_REDIS == yes ]] && MEASURED=$REDIS_PID
drive() {  # seconds, run tag (each run its own phone numbers)
  LOADGEN_TAG=$2 "$BENCH_DIR/loadgen-wrk.sh" "$URL" "$CONCURRENCY" "$1" 0
}
log "warm-up: $WARMUP s"
drive "$WARMUP" 10 >"$RUN/warmup.txt" 2>&1
callgrind_control -z "$MEASURED" >/dev/null 2>&1
log "measured: $DURATION s, $CONCURRENCY connections"
drive "$DURATION" 20 >"$RUN/measured.txt" 2>&1
line=$(grep -m1 '^LOADGEN-WRK ' "$RUN/measured.txt")
sleep 1   # the delivery of the last completions
callgrind_control -d "$MEASURED" >/dev/null 2>&1
sleep 1
dump=$(ls -t "$OUT/$name.out.$MEASURED".* 2>/dev/null | head -n 1)
python3 - "$dump" "$line" "$name" <<'EOF'
import json, sys
dump, line, name = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.loads(line[len("LOADGEN-WRK "):])
total = 0
for l in open(dump):
    if l.startswith("summary:") or l.startswith("totals:"):
        total = int(l.split()[1])
        break
hops = r["hops"]
bad = r["bad_responses"] + r["transport_errors"]
print(f"{name}: {total / hops / 1000:.1f}k instructions per hop ({total:,} over {hops} hops, {bad} bad); {dump}")
EOF
