#!/usr/bin/env bash
# Two checkouts side by side, alternating, so the shared machine's noise falls on both.
#
#   bash evals/benchmarks/compare_trees.sh OLD_DIR NEW_DIR [ROUNDS]
#   BENCHMARKS=http_chat HTTP_ARGS="--sessions 20 --turns 10" bash evals/benchmarks/compare_trees.sh OLD NEW 5
#
# BENCHMARKS (default "retrieval_latency chat_overhead") picks the benchmarks, each tree's run
# right after the other's. Those two read one SciFact index: LECTERN_HOME holds
# eval-cache/scifact-<fingerprint> per tree (copy one index directory to the other fingerprint's
# name when the index format did not change). http_chat needs no index: this script's own tree
# drives it and serves each tree in turn (`--tree`), then the medians per tree of its
# cpu_ms_per_turn and turns/s and their ratios new/old are printed.
set -euo pipefail
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd) rounds=${3:-3}
here=$(cd "$(dirname "$0")/../.." && pwd)
py=${PYTHON:-$here/.venv/bin/python}
export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for benchmark in ${BENCHMARKS:-retrieval_latency chat_overhead}; do
  for round in $(seq "$rounds"); do
    for tree in "$old" "$new"; do
      if [ "$benchmark" = http_chat ]; then
        echo "== $benchmark $tree round $round" | tee -a "$log"
        # shellcheck disable=SC2086  # HTTP_ARGS is a list of options
        (cd "$here" && "$py" -m evals.benchmarks.http_chat --tree "$tree" ${HTTP_ARGS:-} 2>&1) | tee -a "$log"
      else
        echo "== $benchmark $tree round $round"
        (cd "$tree" && "$py" -m "evals.benchmarks.$benchmark" 2>&1 | tail -4)
      fi
    done
  done
done
if [ -s "$log" ]; then
  "$py" - "$log" "$old" "$new" <<'PY'
import re, statistics, sys
text, old, new = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
runs = re.split(r"^== http_chat (\S+) round \d+$", text, flags=re.M)[1:]
figures = {old: {"cpu": [], "tps": []}, new: {"cpu": [], "tps": []}}
for tree, out in zip(runs[::2], runs[1::2]):
    cpu, tps = re.search(r"cpu_ms_per_turn ([\d.]+)", out), re.search(r"([\d.]+) turns/s", out)
    if cpu and tps:
        figures[tree]["cpu"].append(float(cpu.group(1)))
        figures[tree]["tps"].append(float(tps.group(1)))
for name, unit in (("cpu", "cpu_ms_per_turn"), ("tps", "turns/s")):
    a, b = figures[old][name], figures[new][name]
    if a and b:
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{unit:16} old {a} median {ma:.1f} | new {b} median {mb:.1f} | new/old {mb / ma:.2f}")
PY
fi
