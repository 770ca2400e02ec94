#!/usr/bin/env bash
# Side-by-side throughput of Sauti and the peer USSD frameworks, in one sitting, with the
# harness in BENCH_DIR (loadgen-wrk.sh + loadgen.lua, peerctl.sh, limit/). See benches/README.md.
#
#   benches/compare.sh                          # every target, 50 respondents, 10 s after 2 s warmup
#   CONCURRENCY=20 DURATION=5 WARMUP=1 benches/compare.sh
#   TARGETS="limit-redis sauti-redis" benches/compare.sh
#
# Env: BENCH_DIR (default <repo>/../shared/bench), CONCURRENCY (50), DURATION (10 s), WARMUP (2 s),
#      PEER_WORKERS (2: node cluster workers / gunicorn workers), TARGETS (all, in this order:
#      limit-null limit-redis limit-cas limit-cas-deliver limit-sauti limit-sauti-deliver limit-sauti-embedded sauti-embedded sauti-embedded-warn
#      sauti-redis sauti-redis-warn sauti-embedded-voice sauti-redis-voice ussd-menu-builder ussd_airflow).
# Sauti runs as shipped (no configuration file: log level info, resume on, the file sink
# delivering in the same process); the *-warn rows are the same with `log = "warn"`.
# The *-voice rows are sauti-embedded / sauti-redis answering calls instead of USSD dials: the
# built-in Africa's Talking Voice gateway (/voice/africastalking, callbacks to the listen
# address), the flow's `voice` number, and stand-in recordings of every prompt in every language
# (silent WAVs named by `sauti prompts bench`, in the run's directory, given with --audio); no
# configuration file. They are driven by benches/voice-wrk.sh + voice.lua (whole calls, 7 hops
# each, every XML reply checked) instead of the harness's driver; the columns are the same.
# limit-sauti is examples/limit_sauti.rs: a bare hyper server sending exactly Sauti's Redis
# traffic per hop; limit-sauti-deliver adds the file sink's delivery work; limit-cas(-deliver) sends the least a
# per-hop compare-and-set needs on Redis 7 (one key, one GET+SET script); limit-sauti-embedded
# does embedded mode's work (memory sessions, the journal's fsync before END) (BENCHMARKS.md).
# Builds sauti and limit/ in release mode, installs the peers if missing (peerctl.sh install),
# runs a dedicated redis-server on a free loopback port for the run (every Redis-backed target
# uses it, flushed between targets), starts each target alone, waits until it answers, drives
# it with loadgen-wrk.sh, stops it. Prints a Markdown table and writes it with the raw
# LOADGEN-WRK lines to benches/results/<UTC timestamp>.md; logs and data go to
# target/bench-compare/<UTC timestamp>/. Nothing is added to git.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
CONCURRENCY=${CONCURRENCY:-50}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
PEER_WORKERS=${PEER_WORKERS:-2}
ALL_TARGETS="limit-null limit-redis limit-cas limit-cas-deliver limit-sauti limit-sauti-deliver limit-sauti-embedded sauti-embedded sauti-embedded-warn sauti-redis sauti-redis-warn sauti-embedded-voice sauti-redis-voice ussd-menu-builder ussd_airflow"
TARGETS=${TARGETS:-$ALL_TARGETS}
# A fixed key for the benchmark only (pseudonyms of synthetic phone numbers).
PSEUDONYM_KEY=bench-key-0123456789abcdef
# The number calls dial (benches/flows/bench.toml `voice`, benches/voice.lua DESTINATION).
VOICE_NUMBER=+243900000384

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN="$ROOT/target/bench-compare/$STAMP"      # logs, data dirs, wrk reports (git-ignored)
RESULTS_DIR="$ROOT/benches/results"
REPORT="$RESULTS_DIR/$STAMP.md"
RAW="$RUN/raw.txt"                           # name<TAB>LOADGEN-WRK {...} | name<TAB>SKIP reason
NOTES="$RUN/notes.txt"
mkdir -p "$RUN" "$RESULTS_DIR"
: >"$RAW"; : >"$NOTES"

for t in $TARGETS; do
  [[ " $ALL_TARGETS " == *" $t "* ]] || { echo "unknown target $t (one of: $ALL_TARGETS)" >&2; exit 2; }
done
[[ -x $BENCH_DIR/loadgen-wrk.sh && -d $BENCH_DIR/limit ]] || { echo "no harness in $BENCH_DIR (set BENCH_DIR)" >&2; exit 2; }
for cmd in wrk redis-server redis-cli curl python3 cargo node; do
  command -v "$cmd" >/dev/null || { echo "missing $cmd (see $BENCH_DIR/README.md: apt-get install -y redis-server redis-tools wrk)" >&2; exit 2; }
done

# Processes started here, stopped by the trap whatever happens.
PIDS=()              # our own servers (sauti, limit, redis-server)
PEERS_STARTED=()     # peers started through peerctl.sh
REDIS_PORT=""
REDIS_PID=""

log() { echo "[compare] $*" >&2; }
note() { echo "- $*" >>"$NOTES"; log "NOTE: $*"; }

stop_pid() {  # pid: TERM, wait up to 15 s, then KILL
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "pid $pid still alive after 15 s, killing"; kill -9 "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${PEERS_STARTED[@]}"; do "$BENCH_DIR/peerctl.sh" stop "$p" >/dev/null 2>&1 || true; done
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ -n $REDIS_PID ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    stop_pid "$REDIS_PID"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

busy() {  # what else is using the CPU (another build halves the figures)
  local hogs
  hogs=$(pgrep -l -x 'rustc|cc1|cc1plus|ld|cargo|wrk|redis-benchmark|gcc' 2>/dev/null | awk '{print $2}' | sort | uniq -c | awk '{print $2"x"$1}' | tr '\n' ' ' || true)
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg); foreign CPU hogs: ${hogs:-none}"
}

# --- builds and installs ---------------------------------------------------------------------
log "building sauti and limit-sauti (release)"
(cd "$ROOT" && cargo build --release --locked --bin sauti --example limit_sauti)
log "building limit-null / limit-redis (release) in $BENCH_DIR/limit"
(cd "$BENCH_DIR/limit" && cargo build --release --locked)
SAUTI="$ROOT/target/release/sauti"
LIMIT_SAUTI="$ROOT/target/release/examples/limit_sauti"
LIMIT_BIN="$BENCH_DIR/limit/target/release"

umb_installed() { [[ -d $BENCH_DIR/ussd-menu-builder/node_modules/ussd-menu-builder ]]; }
airflow_installed() { [[ -x $BENCH_DIR/ussd-airflow/.venv/bin/gunicorn ]]; }
want() { [[ " $TARGETS " == *" $1 "* ]]; }
if { want ussd-menu-builder && ! umb_installed; } || { want ussd_airflow && ! airflow_installed; }; then
  log "installing the peers (peerctl.sh install)"
  if ! "$BENCH_DIR/peerctl.sh" install >"$RUN/peer-install.log" 2>&1; then
    note "peerctl.sh install failed (see target/bench-compare/$STAMP/peer-install.log): $(tail -n 3 "$RUN/peer-install.log" | tr '\n' ' ')"
  fi
fi

# --- the header: machine and versions --------------------------------------------------------
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev="$rev (+ uncommitted changes)"
ver() { "$@" 2>&1 | head -n 1 || true; }
{
  echo "# Sauti side-by-side benchmark, $STAMP"
  echo
  echo "- machine: $(nproc) CPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
  echo "- uptime: $(uptime)"
  echo "- sauti: $rev ($(ver "$SAUTI" --version)), $(ver rustc --version)"
  echo "- node $(ver node --version), $(ver python3 --version), $(ver redis-server --version | sed 's/ sha=.*//'), $(ver wrk --version | cut -d' ' -f1-2)"
  if umb_installed; then
    echo "- ussd-menu-builder $(cd "$BENCH_DIR/ussd-menu-builder" && node -p "require('ussd-menu-builder/package.json').version" 2>/dev/null || echo '?')"
  fi
  if airflow_installed; then
    echo "- ussd-airflow venv: $("$BENCH_DIR/ussd-airflow/.venv/bin/pip" freeze 2>/dev/null | grep -iE '^(ussd[-_]airflow[-_]engine|gunicorn|redis)==' | tr '\n' ' ')"
  fi
  echo "- load: \`loadgen-wrk.sh URL $CONCURRENCY $DURATION $WARMUP\` (concurrency, measured seconds, warmup seconds), peers with $PEER_WORKERS workers, harness $BENCH_DIR"
  if want sauti-embedded-voice || want sauti-redis-voice; then
    echo "- voice rows: \`benches/voice-wrk.sh URL $CONCURRENCY $DURATION $WARMUP\` (the same survey as calls, 7 hops per call)"
  fi
  echo "- before the runs: $(busy)"
} >"$RUN/header.md"
cat "$RUN/header.md"
echo

# --- Redis for the run -----------------------------------------------------------------------
needs_redis=no
for t in $TARGETS; do case $t in limit-null|limit-sauti-embedded|sauti-embedded*) ;; *) needs_redis=yes;; esac; done
if [[ $needs_redis == yes ]]; then
  REDIS_PORT=$(free_port)
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
    --logfile "$RUN/redis.log" &
  REDIS_PID=$!
  for _ in $(seq 1 100); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null || { echo "redis-server did not start on $REDIS_PORT" >&2; exit 1; }
  log "redis-server on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID, no persistence)"
fi
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
flush_redis() { [[ -z $REDIS_PORT ]] || redis-cli -h 127.0.0.1 -p "$REDIS_PORT" flushall >/dev/null; }

# --- sauti's configuration -------------------------------------------------------------------
# As shipped: no configuration file at all (log = "info", resume on for 48 h, the file sink
# delivering in the same process). The driver gives the warm-up and the measured run their own
# phone numbers, so no respondent of the measured run is offered a resume. The -warn variant
# differs by its log level only.
printf '# Written by benches/compare.sh: the shipped defaults but for the log level.\nlog = "warn"\n' \
  >"$RUN/sauti-warn.toml"
# Calls need every prompt recorded (or a text-to-speech voice) in a language for it to be
# offered. The -voice targets get a recording of each, as a deployment records them (no
# Swahili or Lingala voice exists, docs/voice.md): short silent WAVs at the paths of the
# recording script (`sauti prompts`), so the script and the files never disagree. Nobody
# fetches them during the run (the driver plays Africa's Talking's requests, not its audio).
if want sauti-embedded-voice || want sauti-redis-voice; then
  (cd "$RUN" && env -u SAUTI_CONFIG -u SAUTI_AUDIO "$SAUTI" prompts "$ROOT/benches/flows/bench.toml" --locales "$ROOT/benches/locales" \
    --audio "$RUN/audio" --format csv) >"$RUN/voice-prompts.csv"
  python3 - "$RUN/voice-prompts.csv" "$RUN/audio" <<'EOF'
import csv, os, sys, wave
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
for row in rows:
    path = os.path.join(sys.argv[2], row["file"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with wave.open(path, "wb") as w:  # 0.1 s of 8 kHz 16-bit mono silence
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000); w.writeframes(bytes(1600))
langs = sorted({row["language"] for row in rows})
print(f"[compare] {len(rows)} stand-in recordings for the voice targets ({' '.join(langs)}) in {sys.argv[2]}", file=sys.stderr)
EOF
fi

# --- targets ---------------------------------------------------------------------------------
wait_http() {  # pid url: until a hop is answered with HTTP 200 (or the process dies), 15 s
  local pid=$1 url=$2 code form
  form=(--data-urlencode sessionId=compare-probe --data-urlencode 'serviceCode=*384*1#'
    --data-urlencode phoneNumber=+243800000000 --data-urlencode networkCode=63001 --data-urlencode text=)
  if [[ $url == */voice/* ]]; then  # a call's first request (Africa's Talking Voice)
    form=(--data-urlencode isActive=1 --data-urlencode sessionId=compare-probe
      --data-urlencode callerNumber=+243800000000 --data-urlencode destinationNumber="$VOICE_NUMBER")
  fi
  for _ in $(seq 1 150); do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url" "${form[@]}" 2>/dev/null || true)
    [[ $code == 200 ]] && return 0
    sleep 0.1
  done
  return 1
}

start_bg() {  # name cmd...: starts a server of ours in the background, logs in $RUN/<name>.log
  local name=$1; shift
  "$@" >"$RUN/$name.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

stop_ours() { stop_pid "$1"; }

measure() {  # name url: the harness's driver, or calls for the -voice targets
  local name=$1 url=$2 line driver="$BENCH_DIR/loadgen-wrk.sh"
  [[ $name == *-voice ]] && driver="$ROOT/benches/voice-wrk.sh"
  log "$name: $(busy)"
  "$driver" "$url" "$CONCURRENCY" "$DURATION" "$WARMUP" >"$RUN/$name.wrk.txt" 2>&1 || true
  line=$(grep -m1 '^LOADGEN-WRK ' "$RUN/$name.wrk.txt" || true)
  if [[ -z $line ]]; then
    printf '%s\tSKIP %s\n' "$name" "no LOADGEN-WRK line: $(tail -n 2 "$RUN/$name.wrk.txt" | tr '\n' ' ')" >>"$RAW"
  else
    printf '%s\t%s\n' "$name" "$line" >>"$RAW"
    echo "$name $line" >&2
  fi
}

skip() { printf '%s\tSKIP %s\n' "$1" "$2" >>"$RAW"; note "$1 skipped: $2"; }

run_own() {  # name url cmd...: start, wait, measure, stop one of our servers
  local name=$1 url=$2; shift 2
  flush_redis
  start_bg "$name" "$@"
  local pid=$STARTED_PID
  if wait_http "$pid" "$url"; then
    measure "$name" "$url"
  else
    skip "$name" "did not answer on $url: $(tail -n 3 "$RUN/$name.log" | tr '\n' ' ')"
  fi
  if [[ $name == sauti-* ]]; then sauti_after "$name"; fi
  if [[ $name == limit-sauti-deliver || $name == limit-sauti-embedded || $name == limit-cas-deliver ]]; then
    note "$name: lines in responses.jsonl right after the run: $(wc -l <"$RUN/data-$name/responses.jsonl" 2>/dev/null || echo 0)"
  fi
  stop_ours "$pid"
}

sauti_after() {  # what became of the completed surveys (before the server stops)
  local name=$1 dir="$RUN/data-$1" status calls
  if [[ $name == sauti-redis* ]]; then
    status=$(SAUTI_PSEUDONYM_KEY=$PSEUDONYM_KEY timeout 20 "$SAUTI" outbox status \
      --data-dir "$dir" --redis "$REDIS_URL" --redis-key-prefix sauti-bench 2>&1 | tail -n 1 || true)
    note "$name: outbox right after the run: ${status:-?}; lines in responses.jsonl: $(wc -l <"$dir/responses.jsonl" 2>/dev/null || echo 0) (the file sink keeps delivering from the Redis stream)"
  else
    note "$name: responses fsynced to responses.jsonl: $(wc -l <"$dir/responses.jsonl" 2>/dev/null || echo 0) (warmup included)"
  fi
  if [[ $name == *-voice ]]; then
    calls=$(grep -c '"channel":"voice".*"description":{"value":"http://127.0.0.1:9/rec/[^"]*","audio":true' \
      "$dir/responses.jsonl" 2>/dev/null || true)
    note "$name: of those, calls with the recording URL as the description answer: ${calls:-0}"
  fi
}

run_peer() {  # name peerctl-name port
  local name=$1 p=$2 port=$3 url="http://127.0.0.1:$3/ussd"
  local installed=umb_installed; [[ $p == airflow ]] && installed=airflow_installed
  if ! $installed; then skip "$name" "not installed (peerctl.sh install failed, see the note above)"; return; fi
  if "$BENCH_DIR/peerctl.sh" status | grep -q "^$p: running"; then
    skip "$name" "already running (not started by this script; stop it with peerctl.sh stop $p)"; return
  fi
  flush_redis
  if REDIS_URL=$REDIS_URL "$BENCH_DIR/peerctl.sh" start "$p" "$PEER_WORKERS" >"$RUN/$name.start.txt" 2>&1; then
    PEERS_STARTED+=("$p")
    if wait_http "" "$url"; then measure "$name" "$url"
    else skip "$name" "did not answer on $url"; fi
    "$BENCH_DIR/peerctl.sh" stop "$p" >/dev/null 2>&1 || true
    PEERS_STARTED=()
  else
    skip "$name" "did not start: $(tr '\n' ' ' <"$RUN/$name.start.txt") (log: $BENCH_DIR/.run/$p.log: $(tail -n 3 "$BENCH_DIR/.run/$p.log" 2>/dev/null | tr '\n' ' '))"
    "$BENCH_DIR/peerctl.sh" stop "$p" >/dev/null 2>&1 || true
  fi
}

for t in $TARGETS; do
  case $t in
    limit-null)
      port=$(free_port)
      run_own "$t" "http://127.0.0.1:$port/ussd" env PORT="$port" "$LIMIT_BIN/limit-null" ;;
    limit-redis)
      port=$(free_port)
      run_own "$t" "http://127.0.0.1:$port/ussd" env PORT="$port" REDIS_URL="$REDIS_URL" "$LIMIT_BIN/limit-redis" ;;
    limit-sauti|limit-sauti-deliver|limit-sauti-embedded|limit-cas|limit-cas-deliver)
      port=$(free_port)
      deliver=0; [[ $t == *-deliver ]] && deliver=1
      store=redis; [[ $t == limit-sauti-embedded ]] && store=memory; [[ $t == limit-cas* ]] && store=cas
      run_own "$t" "http://127.0.0.1:$port/ussd/africastalking" \
        env PORT="$port" REDIS_URL="$REDIS_URL" LIMIT_DELIVER=$deliver LIMIT_STORE=$store \
        LIMIT_DATA_DIR="$RUN/data-$t" "$LIMIT_SAUTI" ;;
    sauti-embedded|sauti-embedded-warn|sauti-embedded-voice)
      port=$(free_port)
      config=(); [[ $t == *-warn ]] && config=(--config "$RUN/sauti-warn.toml")
      route=/ussd/africastalking; audio=()
      [[ $t == *-voice ]] && { route=/voice/africastalking; audio=(--audio "$RUN/audio"); }
      run_own "$t" "http://127.0.0.1:$port$route" \
        env -u SAUTI_REDIS_URL -u SAUTI_CONFIG -u SAUTI_WEBHOOK_URL -u SAUTI_PUBLIC_URL -u SAUTI_AUDIO SAUTI_PSEUDONYM_KEY="$PSEUDONYM_KEY" "$SAUTI" serve \
        "${config[@]}" "${audio[@]}" --listen "127.0.0.1:$port" --flows "$ROOT/benches/flows" \
        --locales "$ROOT/benches/locales" --data-dir "$RUN/data-$t" ;;
    sauti-redis|sauti-redis-warn|sauti-redis-voice)
      port=$(free_port)
      config=(); [[ $t == *-warn ]] && config=(--config "$RUN/sauti-warn.toml")
      route=/ussd/africastalking; audio=()
      [[ $t == *-voice ]] && { route=/voice/africastalking; audio=(--audio "$RUN/audio"); }
      run_own "$t" "http://127.0.0.1:$port$route" \
        env -u SAUTI_CONFIG -u SAUTI_WEBHOOK_URL -u SAUTI_PUBLIC_URL -u SAUTI_AUDIO SAUTI_PSEUDONYM_KEY="$PSEUDONYM_KEY" "$SAUTI" serve \
        "${config[@]}" "${audio[@]}" --listen "127.0.0.1:$port" --flows "$ROOT/benches/flows" \
        --locales "$ROOT/benches/locales" --data-dir "$RUN/data-$t" \
        --redis "$REDIS_URL" --redis-key-prefix sauti-bench ;;
    ussd-menu-builder) run_peer "$t" umb 8081 ;;
    ussd_airflow) run_peer "$t" airflow 8082 ;;
  esac
done

# --- the table -------------------------------------------------------------------------------
table=$(python3 - "$RAW" <<'EOF'
import json, sys
rows, res = [], {}
for line in open(sys.argv[1], encoding="utf-8"):
    name, _, rest = line.rstrip("\n").partition("\t")
    if rest.startswith("LOADGEN-WRK "):
        res[name] = json.loads(rest[len("LOADGEN-WRK "):])
    rows.append((name, rest))
def same_work(name):
    if name.startswith("sauti-redis"):
        return "limit-sauti-deliver"
    if name.startswith("sauti-embedded"):
        return "limit-sauti-embedded"
    return None
def ratio(r, ref):
    base = res.get(ref)
    if not base or not base["hops_per_s"]:
        return "n/a"
    return f'{r["hops_per_s"] / base["hops_per_s"]:.2f}'
# Redis rows are also put beside limit-cas-deliver: the least any layout with a per-hop
# compare-and-set and the same delivery can cost on this Redis.
print("| target | hops/s | p50 ms | p90 ms | p99 ms | bad responses | transport errors | / ussd-menu-builder | / limit-redis | / limit-null | / the limit doing the same work | / limit-cas-deliver |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, rest in rows:
    r = res.get(name)
    if r is None:
        print(f"| {name} | not run | | | | | | | | | | |")
        continue
    l = r["latency_ms"]
    cas = ratio(r, "limit-cas-deliver") if name.startswith("sauti-redis") else ""
    print(f'| {name} | {r["hops_per_s"]:,.0f} | {l["p50"]:.2f} | {l["p90"]:.2f} | {l["p99"]:.2f} '
          f'| {r["bad_responses"]} | {r["transport_errors"]} | {ratio(r, "ussd-menu-builder")} | {ratio(r, "limit-redis")} '
          f'| {ratio(r, "limit-null")} | {ratio(r, same_work(name)) if same_work(name) else ""} | {cas} |')
EOF
)

{
  cat "$RUN/header.md"
  echo "- after the runs: $(busy)"
  echo
  echo "$table"
  echo
  echo "Targets: limit-null / limit-redis are the harness's minimal hyper servers (no engine; limit-redis does one"
  echo "\`SET ... EX 180 GET\` per hop); limit-sauti sends exactly Sauti's Redis traffic per hop (examples/limit_sauti.rs)"
  echo "and limit-sauti-deliver adds the file sink delivering from the stream; limit-cas sends the least a per-hop"
  echo "compare-and-set needs on Redis 7 (one key per survey, one GET+SET script, the stream entry on completion; a GET"
  echo "on dial-in), limit-cas-deliver adds the same delivery; limit-sauti-embedded does embedded"
  echo "mode's work (memory sessions, the journal fsynced before END); sauti-embedded keeps sessions in memory"
  echo "and fsyncs each completed survey to responses.jsonl; sauti-redis keeps sessions and the outbox stream in Redis"
  echo "and a file sink delivers from it; the peers keep sessions in Redis. All Redis-backed targets share one"
  echo "dedicated redis-server (flushed between targets). Sauti runs as shipped (no configuration file); the -warn rows"
  echo "set \`log = \"warn\"\` only (see benches/README.md). The -voice rows are sauti-embedded / sauti-redis answering"
  echo "the same survey as Africa's Talking Voice calls (the built-in voice gateway, stand-in recordings of every prompt"
  echo "given with \`--audio\`), driven by benches/voice-wrk.sh: 7 hops per call (the dial, 5 answers, the isActive=0"
  echo "end-of-call request), each XML reply checked for what its step must hold; sessions/s is calls/s."
  if [[ -s $NOTES ]]; then echo; echo "Notes:"; echo; cat "$NOTES"; fi
  echo
  echo "Raw driver lines:"
  echo
  echo '```'
  sed 's/\t/  /' "$RAW"
  echo '```'
  echo
  echo "Logs, wrk reports and data: target/bench-compare/$STAMP/"
} >"$REPORT"

echo
echo "$table"
[[ -s $NOTES ]] && { echo; cat "$NOTES"; }
echo
echo "report: $REPORT"
