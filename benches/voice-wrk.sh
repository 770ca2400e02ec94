#!/usr/bin/env bash
# Drive the benchmark survey as phone calls (Africa's Talking Voice) with wrk + voice.lua: the
# voice twin of the harness's loadgen-wrk.sh, same arguments, same output.
#   benches/voice-wrk.sh URL [CONCURRENCY=50] [DURATION_S=10] [WARMUP_S=2] [MAX_CALLS_PER_CONN=0]
# URL is the voice gateway's route (http://127.0.0.1:8080/voice/africastalking). Loopback only.
# -t = -c = CONCURRENCY (one connection per wrk thread, see voice.lua). Prints wrk's own report
# and a LOADGEN-WRK {json} line (hops/s, sessions/s = calls/s, p50/p90/p99; 7 hops per call).
set -euo pipefail
url=${1:?usage: $0 URL [concurrency] [duration_s] [warmup_s] [max_calls_per_conn]}
conc=${2:-50}
dur=${3:-10}
warm=${4:-2}
maxs=${5:-0}
here=$(cd "$(dirname "$0")" && pwd)
tag=${LOADGEN_TAG:-$(( $(date +%s) / 2 % 50 * 2 ))}   # warm-up and measured run get other caller numbers than runs of the last 100 s (voice.lua)

command -v wrk >/dev/null || { echo "wrk not installed (apt-get install -y wrk)" >&2; exit 2; }
[[ $conc =~ ^[0-9]+$ && $conc -ge 1 && $conc -le 1000 ]] || { echo "concurrency 1..1000" >&2; exit 2; }
[[ $dur =~ ^[0-9]+$ && $dur -ge 1 && $dur -le 600 ]] || { echo "duration 1..600 s" >&2; exit 2; }
[[ $warm =~ ^[0-9]+$ && $warm -le 60 ]] || { echo "warmup 0..60 s" >&2; exit 2; }
[[ $maxs =~ ^[0-9]+$ ]] || { echo "max calls per connection: a number (0: no limit)" >&2; exit 2; }

# refuse anything that does not resolve to loopback only
python3 - "$url" <<'EOF' || exit 2
import ipaddress, socket, sys
from urllib.parse import urlsplit
host = urlsplit(sys.argv[1]).hostname
if not host:
    sys.exit("no host in URL")
for info in socket.getaddrinfo(host, None):
    a = ipaddress.ip_address(info[4][0].split('%')[0])
    if not a.is_loopback:
        sys.exit(f"refusing non-loopback target {host} ({a})")
EOF

if [[ $warm -gt 0 ]]; then
  wrk -t "$conc" -c "$conc" -d "${warm}s" --timeout 10s -s "$here/voice.lua" "$url" -- "$maxs" "$tag" >/dev/null
fi
wrk -t "$conc" -c "$conc" -d "${dur}s" --timeout 10s --latency -s "$here/voice.lua" "$url" -- "$maxs" "$((tag + 1))"
