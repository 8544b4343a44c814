#!/usr/bin/env bash
# Two checkouts side by side, alternating, on one SciFact index: the retrieval latency and the chat
# overhead benchmarks, each tree's run right after the other's so the shared machine's noise falls on both.
#
#   bash evals/benchmarks/compare_trees.sh OLD_DIR NEW_DIR [ROUNDS]
#
# Both trees must read the same index: LECTERN_HOME holds eval-cache/scifact-<fingerprint> per tree
# (copy one index directory to the other fingerprint's name when the index format did not change).
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
py=${PYTHON:-$(dirname "$0")/../../.venv/bin/python}
export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
for benchmark in retrieval_latency chat_overhead; do
  for round in $(seq "$rounds"); do
    for tree in "$old" "$new"; do
      echo "== $benchmark $tree round $round"
      (cd "$tree" && "$py" -m "evals.benchmarks.$benchmark" 2>&1 | tail -4)
    done
  done
done
