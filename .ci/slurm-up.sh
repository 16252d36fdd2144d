#!/usr/bin/env bash
# Bring up a single-node SLURM cluster (Debian's slurm-wlm, munge, no accounting database,
# no cgroups) for the SLURM workflow test. Run as root; idempotent; tear down with slurm-down.sh.
#
#   ARIELCAL_SLURM_DIR  state, spool, logs and PID files   [/tmp/arielcal-slurm]
#   SLURM_CONF          where slurm.conf is written          [/etc/slurm/slurm.conf]
#   SLURM_UP_TIMEOUT    seconds to wait for each daemon       [60]
#
# Every SLURM client call is wrapped in `timeout`: sinfo/scontrol block for minutes while a
# daemon is down.
set -euo pipefail

DIR=${ARIELCAL_SLURM_DIR:-/tmp/arielcal-slurm}
CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}
WAIT=${SLURM_UP_TIMEOUT:-60}
MUNGE_PID=/run/munge/munged.pid
MUNGE_LOG=/var/log/munge/munged.log
START=$(date +%s.%N)

say() { echo "slurm-up: $*"; }

tails() {
    for log in "$MUNGE_LOG" "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log"; do
        [[ -f $log ]] || continue
        echo "---- tail $log"
        tail -n 25 "$log"
    done
}

fail() {
    echo "slurm-up: ERROR: $*" >&2
    tails >&2
    exit 1
}

# PID from a PID file if that process is alive.
alive() { [[ -f $1 ]] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

# Poll a command (its SLURM calls wrapped in timeout) every 0.2 s for up to WAIT seconds;
# fail early if the daemon behind PIDFILE ("-": none) has died.
wait_for() {
    local what=$1 pidfile=$2
    shift 2
    local deadline=$(($(date +%s) + WAIT)) polls=0
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < deadline)) || fail "$what not ready after ${WAIT}s"
        if [[ $pidfile != - ]] && ((++polls > 10)) && ! alive "$pidfile"; then
            fail "$what: the daemon exited (no live process in $pidfile)"
        fi
        sleep 0.2
    done
}

# Start a daemon with a fresh log (the previous one is kept as .old).
start() {
    local name=$1 log=$2
    shift 2
    [[ -f $log ]] && mv -f "$log" "$log.old"
    say "starting $name"
    "$@" || fail "$name did not start"
}

[[ $(id -u) == 0 ]] || fail "run as root (daemons, /etc/slurm and munge need it)"

# 1. Packages (only when missing).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sinfo >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -qq || fail "apt-get update failed"
    timeout 600 apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null || fail "apt-get install failed"
fi

# 2. munge: key, directories, daemon.
if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating the munge key"
    mkdir -p /etc/munge
    mungekey --create --keyfile /etc/munge/munge.key || fail "mungekey failed"
fi
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if ! alive "$MUNGE_PID"; then
    start munged "$MUNGE_LOG" runuser -u munge -- munged --force
fi
wait_for "munge" "$MUNGE_PID" bash -c 'timeout 5 munge -n | timeout 5 unmunge'

# 3. slurm.conf for this node.
NODE=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
# A little under the machine's memory: slurmd drains a node whose RealMemory exceeds what it finds.
REAL_MB=$((MEM_MB * 95 / 100))
mkdir -p "$DIR"/{state,spool,log,run} "$(dirname "$CONF")"
NEW_CONF=$(
    cat <<EOF
# Written by .ci/slurm-up.sh: one node, no accounting database, no cgroups.
ClusterName=arielcal
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without cgroups: track processes by parent PID, no task containment.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Poll job memory every second and kill jobs above --mem (what cgroups would enforce).
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue for 5 min: the plugin's squeue status mode needs them.
MinJobAge=300
InactiveLimit=0
KillWait=10
SlurmdTimeout=60
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)
if [[ ! -f $CONF ]] || [[ $(cat "$CONF") != "$NEW_CONF" ]]; then
    if alive "$DIR/run/slurmctld.pid" || alive "$DIR/run/slurmd.pid"; then
        fail "$CONF differs from what this machine needs while daemons run: run .ci/slurm-down.sh first"
    fi
    printf '%s\n' "$NEW_CONF" >"$CONF"
    say "wrote $CONF (node $NODE, $CPUS CPUs, RealMemory=$REAL_MB MB)"
fi

# 4. slurmctld (clean state: -c drops the jobs and node states of an earlier run).
if ! alive "$DIR/run/slurmctld.pid"; then
    start slurmctld "$DIR/log/slurmctld.log" slurmctld -c
fi
wait_for "slurmctld (scontrol ping)" "$DIR/run/slurmctld.pid" bash -c 'timeout 5 scontrol ping | grep -q "is UP"'

# 5. slurmd, then the node must be idle.
if ! alive "$DIR/run/slurmd.pid"; then
    start slurmd "$DIR/log/slurmd.log" slurmd
fi
wait_for "node $NODE idle (sinfo)" "$DIR/run/slurmd.pid" bash -c '[[ $(timeout 5 sinfo -h -o %T) == idle ]]'

say "up in $(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s"
timeout 5 sinfo
