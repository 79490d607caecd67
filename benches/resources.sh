#!/usr/bin/env bash
# Memory and CPU of the pipeline stages, for Kubernetes resource requests
# (docs/operations.md, "Resources"): `earshot analyze` and `earshot route` (release build) as
# two processes on a tansu broker (6 partitions a topic), sampled every half second:
#   idle      10 s after both are ready
#   burst     the sample posts 20 times over (55,940 posts, fresh ids), as fast as ingest goes
#   steady    RATE posts/s (default 500) for 60 s
# Prints idle and peak RSS, idle CPU, CPU seconds per 1,000 posts in the burst, and CPU at
# the steady rate, per stage.
#
#   cargo build --release -p earshot && bash benches/resources.sh [RATE]
#
# Needs tansu (TANSU_BIN or ~/.cargo/bin/tansu: scripts/test installs it), python3, curl.
# Ports 39092 (tansu), 19464 and 19465 (admin) must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-500}
ROOT=$PWD
E="${CARGO_TARGET_DIR:-$ROOT/target}/release/earshot"
T="${TANSU_BIN:-$HOME/.cargo/bin/tansu}"
C="$ROOT/examples/earshot.toml"
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"

python3 - "$ROOT/examples/posts.jsonl" > posts.jsonl <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
for copy in range(20):
    for line in lines:
        post = json.loads(line)
        post["id"] = f"{post['id']}-c{copy}"
        if post.get("conversation_id"):
            post["conversation_id"] = f"{post['conversation_id']}-c{copy}"
        print(json.dumps(post, ensure_ascii=False))
EOF
POSTS=$(wc -l < posts.jsonl)

# Every half second: seconds since start, RSS (KiB), CPU ticks (user + system).
sample() {
  local pid=$1 start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    echo "$(date +%s.%N) $(awk '/VmRSS/{print $2}' /proc/$pid/status) $(awk '{print $14+$15}' /proc/$pid/stat)" || true
    sleep 0.5
  done
}
metric() { curl -s "localhost:$1/metrics" | awk -v m="$2" 'index($0, m" ")==1 {print int($2)}'; }

for port in 39092 19464 19465; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use: stop what listens there first" >&2
    exit 1
  fi
done
mkdir tansu
(cd tansu && exec "$T" broker --listener-url tcp://127.0.0.1:39092 \
  --advertised-listener-url tcp://127.0.0.1:39092 --storage-engine memory://tansu/ >../tansu.log 2>&1) &
PIDS+=($!)
sleep 2
export EARSHOT__KAFKA__BROKERS=127.0.0.1:39092 EARSHOT__KAFKA__CREATE_TOPICS=true \
  EARSHOT__KAFKA__PARTITIONS=6 EARSHOT__LOG__LEVEL=warn
EARSHOT__ADMIN__LISTEN=127.0.0.1:19464 "$E" analyze --config "$C" 2>analyze.log &
APID=$!
PIDS+=($APID)
EARSHOT__ADMIN__LISTEN=127.0.0.1:19465 "$E" route --config "$C" 2>route.log &
RPID=$!
PIDS+=($RPID)
for port in 19464 19465; do
  for _ in $(seq 120); do curl -fs "localhost:$port/readyz" >/dev/null && break; sleep 0.5; done
done
sample $APID > analyze.samples &
sample $RPID > route.samples &
mark() { echo "$1 $(date +%s.%N)" >> marks; }
mark idle; sleep 10
mark burst
"$E" ingest --config "$C" posts.jsonl 2>>ingest.log
for _ in $(seq 600); do
  analyzed=$(metric 19464 'earshot_posts_received_total{stage="analyze"}')
  scored=$(metric 19464 'earshot_records_produced_total{stage="analyze",topic="earshot.posts.scored"}')
  routed=$(metric 19465 'earshot_posts_received_total{stage="route"}')
  [ "${analyzed:-0}" -ge "$POSTS" ] && [ "${routed:-0}" -ge "${scored:-1}" ] && break
  sleep 0.2
done
mark burst_end; sleep 5
mark steady
python3 - posts.jsonl "$RATE" 60 <<'EOF' | "$E" ingest --config "$C" 2>>ingest.log
import sys, time
lines = [l for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
start, sent = time.time(), 0
while time.time() - start < seconds and sent < len(lines):
    due = min(int((time.time() - start) * rate), len(lines))
    sys.stdout.write("".join(lines[sent:due])); sys.stdout.flush()
    sent = due
    time.sleep(0.05)
EOF
mark steady_end
kill -TERM $APID $RPID; wait $APID $RPID || true

echo "earshot stages on tansu, $POSTS posts in the burst ($analyzed analyzed, $routed routed), $RATE posts/s steady"
for stage in analyze route; do
  awk -v stage=$stage -v hz="$(getconf CLK_TCK)" '
    FNR == NR { mark[$1] = $2; next }
    function at(t,   i) { for (i = 1; i <= n; i++) if (time[i] >= t) return i; return n }
    { n++; time[n] = $1; rss[n] = $2 / 1024; tick[n] = $3 }
    END {
      for (i = 1; i <= n; i++) if (rss[i] > peak) peak = rss[i]
      i0 = at(mark["idle"]); i1 = at(mark["burst"]); i2 = at(mark["burst_end"])
      i3 = at(mark["steady"] + 5); i4 = at(mark["steady_end"])
      idle_cpu = (tick[i1] - tick[i0]) / hz / (time[i1] - time[i0])
      burst_cpu = (tick[i2] - tick[i1]) / hz
      steady_cpu = (tick[i4] - tick[i3]) / hz / (time[i4] - time[i3])
      printf "%-8s idle RSS %4.0f MiB  peak RSS %4.0f MiB  idle CPU %3.0f m  burst %5.2f CPU-s  steady CPU %3.0f m\n",
        stage, rss[i1], peak, idle_cpu * 1000, burst_cpu, steady_cpu * 1000
    }' marks $stage.samples
done
