#!/usr/bin/env bash
# Stop the cluster started by slurm-up.sh: slurmd, slurmctld and munged, by their PID files.
# TERM to all at once (each takes about 2 s to exit), wait up to 10 s, then KILL what is left.
# Then remove the slurm.conf that slurm-up.sh wrote (only if it is ours): a config naming a
# controller that is gone makes every later SLURM client call, and so every `snakemake` start
# (the SLURM executor plugin runs `scontrol show config` at import), retry for 9 s.
# Idempotent; never calls a SLURM client, so it cannot hang on a dead daemon.
#
#   ARIELCAL_SLURM_DIR  as for slurm-up.sh   [/tmp/arielcal-slurm]
#   SLURM_CONF          as for slurm-up.sh   [/etc/slurm/slurm.conf]
#   SLURM_KEEP_MUNGE=1  leave munged running
set -uo pipefail

DIR=${ARIELCAL_SLURM_DIR:-/tmp/arielcal-slurm}
CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}
START=$(date +%s.%N)
declare -A PIDS=()

# Read the PID first: the daemons delete their PID file before they exit.
signal() {
    local name=$1 pidfile=$2 pid
    pid=$(cat "$pidfile" 2>/dev/null) || { echo "slurm-down: $name not running (no $pidfile)"; return 0; }
    if [[ ! $pid =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
        echo "slurm-down: $name not running (stale $pidfile)"
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    PIDS[$name]=$pid
    rm -f "$pidfile"
}

signal slurmd "$DIR/run/slurmd.pid"
signal slurmctld "$DIR/run/slurmctld.pid"
[[ ${SLURM_KEEP_MUNGE:-0} == 1 ]] || signal munged /run/munge/munged.pid

for _ in $(seq 100); do
    left=0
    for name in "${!PIDS[@]}"; do kill -0 "${PIDS[$name]}" 2>/dev/null && left=1; done
    ((left)) || break
    sleep 0.1
done
for name in "${!PIDS[@]}"; do
    pid=${PIDS[$name]}
    if kill -0 "$pid" 2>/dev/null; then
        # slurmd ignores TERM while it keeps retrying a dead controller.
        echo "slurm-down: $name ($pid) ignored TERM for 10 s, killing"
        kill -KILL "$pid" 2>/dev/null
    fi
    echo "slurm-down: stopped $name ($pid)"
done
if head -n 1 "$CONF" 2>/dev/null | grep -q '^# Written by .ci/slurm-up.sh'; then
    rm -f "$CONF"
    echo "slurm-down: removed $CONF"
fi
echo "slurm-down: done in $(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s"
