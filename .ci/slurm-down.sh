#!/usr/bin/env bash
# Stop the cluster started by slurm-up.sh: every node's slurmd (and whatever its jobs left
# running in the node's namespace), slurmctld and munged, by PID; then remove the nodes'
# network namespaces, their veth pairs and the bridge.
# TERM to all at once (each daemon takes about 2 s to exit), wait up to 10 s, then KILL what is
# left. Then remove the slurm.conf that slurm-up.sh wrote (only if it is ours): a config naming
# a controller that is gone makes every later SLURM client call, and so every `snakemake` start
# (the SLURM executor plugin runs `scontrol show config` at import), retry for 9 s.
# Idempotent; never calls a SLURM client, so it cannot hang on a dead daemon.
#
#   ARIELCAL_SLURM_DIR  as for slurm-up.sh   [/tmp/arielcal-slurm]
#   SLURM_CONF          as for slurm-up.sh   [/etc/slurm/slurm.conf]
#   SLURM_KEEP_MUNGE=1  leave munged running
set -uo pipefail

DIR=${ARIELCAL_SLURM_DIR:-/tmp/arielcal-slurm}
CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}
BRIDGE=arielcal-br0
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

# slurmd of every node (slurmd-nI.pid), and of the single-node layout of earlier versions (slurmd.pid).
for pidfile in "$DIR"/run/slurmd*.pid; do
    [[ -e $pidfile ]] || continue
    name=$(basename "$pidfile" .pid)
    signal "$name" "$pidfile"
done
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

# Whatever still runs in a node's namespace (slurmstepd and the job processes of a job that
# was running at shutdown) is killed by PID, then the namespace goes (and with it the
# veth end inside; its peer on the bridge goes with it).
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^arielcal-n[0-9]+$/ {print $1}'); do
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    if [[ -n ${pids// /} ]]; then
        echo "slurm-down: killing what is left in $ns: $pids"
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null
    fi
    ip netns del "$ns" && echo "slurm-down: removed network namespace $ns"
done
for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^arielcal-h[0-9]+$'); do
    ip link del "$link" 2>/dev/null
done
if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE" && echo "slurm-down: removed bridge $BRIDGE"
fi

if head -n 1 "$CONF" 2>/dev/null | grep -q '^# Written by .ci/slurm-up.sh'; then
    rm -f "$CONF"
    echo "slurm-down: removed $CONF"
fi
echo "slurm-down: done in $(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s"
