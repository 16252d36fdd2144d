#!/usr/bin/env bash
# Bring up a SLURM cluster of several compute nodes on this one machine (Debian's slurm-wlm and
# munge; no accounting database, no cgroups) for the SLURM workflow tests. Run as root;
# idempotent (a second call starts only what is missing, e.g. the slurmd of a node a test
# crashed); tear down with slurm-down.sh.
#
# Each compute node n1..nN is a network namespace `arielcal-nI` with its own address
# (NET.1I on a bridge whose host side NET.1 carries slurmctld) and, through a UTS namespace,
# its own hostname nI: its slurmd, the jobs' slurmstepd and everything the jobs run live in
# that namespace, so a job log's `hostname` names its node and a node can be crashed for real
# (every process in its namespace killed, see tests/workflow/test_slurm.py). The file system,
# munge's socket and the PID space are shared. See docs/slurm.md for why namespaces rather
# than several `slurmd -N` on 127.0.0.1.
#
#   ARIELCAL_SLURM_DIR    state, spool, logs and PID files        [/tmp/arielcal-slurm]
#   ARIELCAL_SLURM_NODES  compute nodes                           [2]
#   ARIELCAL_SLURM_NET    first three octets of the nodes' /24    [10.77.0]
#   SLURM_CONF            where slurm.conf is written              [/etc/slurm/slurm.conf]
#   SLURM_UP_TIMEOUT      seconds to wait for each daemon          [60]
#
# Every SLURM client call is wrapped in `timeout`: sinfo/scontrol block for minutes while a
# daemon is down.
set -euo pipefail

DIR=${ARIELCAL_SLURM_DIR:-/tmp/arielcal-slurm}
NODES=${ARIELCAL_SLURM_NODES:-2}
NET=${ARIELCAL_SLURM_NET:-10.77.0}
CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}
WAIT=${SLURM_UP_TIMEOUT:-60}
export SLURM_CONF=$CONF
BRIDGE=arielcal-br0
CTL_ADDR=$NET.1
MUNGE_PID=/run/munge/munged.pid
MUNGE_LOG=/var/log/munge/munged.log
START=$(date +%s.%N)

say() { echo "slurm-up: $*"; }

tails() {
    for log in "$MUNGE_LOG" "$DIR/log/slurmctld.log" "$DIR"/log/slurmd-*.log; do
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

[[ $(id -u) == 0 ]] || fail "run as root (daemons, namespaces, /etc/slurm and munge need it)"
[[ $NODES =~ ^[1-9][0-9]?$ ]] || fail "ARIELCAL_SLURM_NODES must be 1..99, got '$NODES'"

# 1. Packages (only when missing).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sinfo >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -qq || fail "apt-get update failed"
    timeout 600 apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null || fail "apt-get install failed"
fi
command -v ip >/dev/null && command -v unshare >/dev/null && command -v nsenter >/dev/null \
    || fail "needs ip (iproute2), unshare and nsenter (util-linux)"

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

# 3. The network: a bridge (the controller's side) and one namespace per node, each with a
# veth pair into the bridge. Only what is missing is created.
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge || fail "cannot create bridge $BRIDGE"
fi
# (Tests on captured output, not `ip ... | grep -q`: under pipefail, grep's early exit can
# SIGPIPE `ip` and turn a match into a failure.)
[[ $(ip -o addr show dev "$BRIDGE") == *"inet $CTL_ADDR/24"* ]] || ip addr add "$CTL_ADDR/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
for i in $(seq "$NODES"); do
    ns=arielcal-n$i host_if=arielcal-h$i addr=$NET.$((10 + i))
    [[ -e /run/netns/$ns ]] || ip netns add "$ns" || fail "cannot create network namespace $ns"
    if ! ip link show "$host_if" >/dev/null 2>&1; then
        ip link add "$host_if" type veth peer name eth0 netns "$ns" || fail "cannot create veth $host_if"
    fi
    ip link set "$host_if" master "$BRIDGE"
    ip link set "$host_if" up
    ip -n "$ns" link set lo up
    [[ $(ip -n "$ns" -o addr show dev eth0) == *"inet $addr/24"* ]] || ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
done

# 4. slurm.conf. Each node gets its share of the CPUs (at least 1) and of ~95 % of the memory:
# slurmd drains a node whose RealMemory exceeds what it finds.
CTL_NAME=$(hostname -s)
CPUS=$(($(nproc) / NODES))
((CPUS >= 1)) || CPUS=1
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
REAL_MB=$((MEM_MB * 95 / 100 / NODES))
mkdir -p "$DIR"/{state,spool,log,run} "$(dirname "$CONF")"
NEW_CONF=$(
    cat <<EOF
# Written by .ci/slurm-up.sh: $NODES nodes in network namespaces, no accounting database, no cgroups.
ClusterName=arielcal
SlurmctldHost=$CTL_NAME($CTL_ADDR)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
MailProg=/bin/true
# A node that was DOWN (crashed, or set down) returns to service when its slurmd registers.
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
# A node whose slurmd stops answering is DOWN after 10 s (default 300 s) and its jobs end
# in NODE_FAIL (the tests crash a node mid-run).
SlurmdTimeout=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
EOF
    for i in $(seq "$NODES"); do
        echo "NodeName=n$i NodeHostname=n$i NodeAddr=$NET.$((10 + i)) CPUs=$CPUS RealMemory=$REAL_MB State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
)
if [[ ! -f $CONF ]] || [[ $(cat "$CONF") != "$NEW_CONF" ]]; then
    if alive "$DIR/run/slurmctld.pid" || compgen -G "$DIR/run/slurmd*.pid" >/dev/null; then
        fail "$CONF differs from what this machine needs while daemons run: run .ci/slurm-down.sh first"
    fi
    printf '%s\n' "$NEW_CONF" >"$CONF"
    say "wrote $CONF ($NODES nodes, $CPUS CPUs and RealMemory=$REAL_MB MB each)"
fi

# 5. slurmctld (clean state: -c drops the jobs and node states of an earlier run).
if ! alive "$DIR/run/slurmctld.pid"; then
    start slurmctld "$DIR/log/slurmctld.log" slurmctld -c
fi
wait_for "slurmctld (scontrol ping)" "$DIR/run/slurmctld.pid" bash -c 'timeout 5 scontrol ping | grep -q "is UP"'

# 6. One slurmd per node, inside its namespaces (network: its address; UTS: its hostname).
# nsenter, not `ip netns exec`: the latter remounts /sys for the namespace, which hides
# /sys/fs/cgroup, and slurmd 22.05 refuses to start without it even with proctrack/linuxproc.
for i in $(seq "$NODES"); do
    node=n$i pidfile=$DIR/run/slurmd-n$i.pid
    mkdir -p "$DIR/spool/$node"
    if ! alive "$pidfile"; then
        start "slurmd $node" "$DIR/log/slurmd-$node.log" \
            nsenter --net="/run/netns/arielcal-n$i" -- unshare --uts -- sh -c "hostname $node && exec slurmd -N $node"
    fi
done
# Up = answering and in service: idle, or busy with jobs when a test restarts a crashed node.
for i in $(seq "$NODES"); do
    wait_for "node n$i up (sinfo)" "$DIR/run/slurmd-n$i.pid" \
        bash -c "[[ \$(timeout 5 sinfo -h -n n$i -o %T) =~ ^(idle|mixed|allocated|completing)\$ ]]"
done

say "up in $(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s"
timeout 5 sinfo -N -o '%N %T %c %m %o'
