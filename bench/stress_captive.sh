#!/usr/bin/env bash
# The captive tests N times in a row under a CPU hog on every core (issue 13: "ten times in a row under
# `stress --cpu 2` with no fail-open flakes"). Stops at the first failing run.
#   bench/stress_captive.sh [N] [pytest args...]     e.g. bench/stress_captive.sh 3 -m "not browser"
# The hog is `stress --cpu <cores>` when installed, else one busy Python loop per core; both are stopped
# (by their own process ids) when the script ends.
set -u
cd "$(dirname "$0")/.."
runs="${1:-10}"
shift || true
cores="$(nproc)"
hogs=()
stop_hogs() { for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; done; wait 2>/dev/null; }
trap stop_hogs EXIT INT TERM
if command -v stress >/dev/null; then
    stress --cpu "$cores" >/dev/null 2>&1 & hogs+=("$!")
    hog="stress --cpu $cores"
else
    for _ in $(seq "$cores"); do python3 -c "while True: pass" & hogs+=("$!"); done
    hog="$cores busy Python loops"
fi
echo "captive tests x$runs under $hog"
passed=0
for i in $(seq "$runs"); do
    start=$(date +%s)
    if PYTHONPATH="$PWD" .venv/bin/python -m pytest tests/captive -q -x -p no:cacheprovider "$@" >"/tmp/stress_captive.$$.log" 2>&1; then
        passed=$((passed + 1))
        echo "run $i: passed ($(tail -1 "/tmp/stress_captive.$$.log" | tr -d '='), $(( $(date +%s) - start )) s)"
    else
        echo "run $i: FAILED after $(( $(date +%s) - start )) s; log:"
        tail -40 "/tmp/stress_captive.$$.log"
        echo "$passed of $runs runs passed before the failure"
        exit 1
    fi
done
rm -f "/tmp/stress_captive.$$.log"
echo "$passed of $runs runs passed"
