#!/usr/bin/env bash
# `earshot score` end to end (JSON lines in, JSON lines out) against VADER's Python
# implementation (vaderSentiment, polarity_scores) on the same posts, both pinned to one core.
#
#   bash benches/score_vs_vader.sh [COPIES] [en|sample]
#
# COPIES (default 20) repeats the posts so that each run lasts long enough to time. `sample`
# (the default) is examples/posts.jsonl, mostly Japanese; `en` is the English tweets of
# tests/data (en_customer_care.tsv and probes_en.tsv, 549 posts), what VADER was made for.
# `earshot score` runs as configured by examples/earshot.toml: the built-in model, and no
# explanation in its output (add `--explain` below to compare with one).
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-20}
set_name=${2:-sample}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -c 'import vaderSentiment' 2>/dev/null || python3 -m pip install --quiet vaderSentiment
# EARSHOT=path/to/earshot compares another build (a release from before a change).
earshot=${EARSHOT:-./target/release/earshot}
[ -n "${EARSHOT:-}" ] || cargo build --release --quiet -p earshot

case "$set_name" in
  sample) cp examples/posts.jsonl "$work/one.jsonl" ;;
  en) python3 - "$work/one.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w", encoding="utf-8") as out:
    n = 0
    for name in ["tests/data/en_customer_care.tsv", "tests/data/probes_en.tsv"]:
        for line in open(name, encoding="utf-8").read().splitlines()[1:]:
            text = line.rsplit("\t", 1)[-1]
            post = {"id": f"en{n}", "platform": "x", "text": text,
                    "author": {"id": f"u{n}", "handle": f"user{n}", "followers": 100 + n},
                    "created_at": "2026-11-15T15:00:26Z"}
            out.write(json.dumps(post) + "\n")
            n += 1
PY
  ;;
  *) echo "unknown post set $set_name (en or sample)" >&2; exit 2 ;;
esac
for _ in $(seq "$copies"); do cat "$work/one.jsonl"; done > "$work/posts.jsonl"
posts=$(wc -l < "$work/posts.jsonl")
bytes=$(python3 -c 'import json,sys; print(sum(len(json.loads(l)["text"].encode()) for l in open(sys.argv[1])))' "$work/posts.jsonl")
pin="taskset -c 0"
command -v taskset >/dev/null || pin=""

cat > "$work/vader.py" <<'PY'
import json, sys, time
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
analyzer = SentimentIntensityAnalyzer()
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
start = time.perf_counter()
for text in texts:
    analyzer.polarity_scores(text)
print(time.perf_counter() - start)
PY
vader_s=$($pin python3 "$work/vader.py" "$work/posts.jsonl")

earshot_s=$(python3 - "$work" "$earshot" $pin <<'PY'
import subprocess, sys, time
work, earshot, pin = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(f"{work}/out.jsonl", "wb") as out:
    start = time.perf_counter()
    subprocess.run(pin + [earshot, "score", "--config", "examples/earshot.toml", f"{work}/posts.jsonl"], stdout=out, check=True)
print(time.perf_counter() - start)
PY
)

python3 - "$posts" "$bytes" "$vader_s" "$earshot_s" <<'PY'
import sys
posts, text_bytes, vader, earshot = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"posts: {posts}, text: {text_bytes / 1e6:.1f} MB")
print(f"vader (python, polarity_scores only): {posts / vader:10.0f} posts/s  ({vader:.2f} s)")
print(f"earshot score (JSON in+out, watchlists): {posts / earshot:10.0f} posts/s  ({earshot:.2f} s, {text_bytes / earshot / 1e6:.1f} MB/s of text)")
print(f"ratio: {vader / earshot:.1f}x")
PY
