#!/usr/bin/env bash
# A real one-node Slurm on this machine, for the end-to-end tests
# (`make test-slurm`): Debian's slurmctld, slurmd, slurm-client and munge,
# no systemd, no accounting database, state and spool under one directory.
#
#   scripts/slurm-local.sh start   install (apt-get, as root) if needed, write slurm.conf, start
#                                  munged, slurmctld and slurmd, wait until the node is idle
#   scripts/slurm-local.sh env     the `export SLURM_CONF=...` line clients need
#   scripts/slurm-local.sh stop    stop the daemons this script started
#
# The directory is $RNNLAB_SLURM_DIR (default /tmp/rnnlab-slurm). Where
# Slurm cannot be installed (not root, no apt-get) it says SKIPPED and
# exits 77, the skip code of automake and of .ci/run.
set -euo pipefail

DIR=${RNNLAB_SLURM_DIR:-/tmp/rnnlab-slurm}
CONF=$DIR/slurm.conf
SKIP=77

skip() {
    echo "SKIPPED: $*" >&2
    echo "SKIPPED: no local Slurm; the Slurm end-to-end tests did not run" >&2
    exit $SKIP
}

install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v munged >/dev/null; then
        return
    fi
    [ "$(id -u)" = 0 ] || skip "Slurm is not installed and installing it needs root (apt-get)"
    command -v apt-get >/dev/null || skip "Slurm is not installed and there is no apt-get to install it"
    echo ">> installing slurmctld slurmd slurm-client munge (apt-get, about a minute)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || skip "apt-get update failed"
    apt-get install -y -qq slurmctld slurmd slurm-client munge >&2 || skip "apt-get install of Slurm failed"
}

write_conf() {
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    # MiB, leaving a quarter for the system.
    mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 3 / 4 }' /proc/meminfo)
    mkdir -p "$DIR/state" "$DIR/spool"
    cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster for rnnlab's tests.
ClusterName=rnnlab-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# Requeued jobs wait for the credential lifetime before they run again.
AuthInfo=cred_expire=5
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MaxArraySize=1001
JobRequeue=1
KillWait=5
MinJobAge=300
SchedulerParameters=sched_interval=2
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
    install
    if [ -f "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
        echo "Slurm already running (SLURM_CONF=$CONF)" >&2
        return
    fi
    if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
        echo "error: a slurmctld or slurmd not started from $DIR is running (ports 6817/6818 are taken);" \
            "stop it first (RNNLAB_SLURM_DIR=<its dir> $0 stop)" >&2
        exit 1
    fi
    write_conf
    export SLURM_CONF=$CONF
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    if ! pgrep -x munged >/dev/null; then
        [ -s /etc/munge/munge.key ] || mungekey --create >&2
        munged --force >&2
        echo started >"$DIR/munged.ours"
    fi
    # -i: ignore saved state (a fresh cluster each start).
    slurmctld -D -i >"$DIR/slurmctld.out" 2>&1 &
    echo $! >"$DIR/slurmctld.ours"
    slurmd -D >"$DIR/slurmd.out" 2>&1 &
    echo $! >"$DIR/slurmd.ours"
    for _ in $(seq 60); do
        if sinfo -h -o '%t' 2>/dev/null | grep -qx 'idle'; then
            echo "Slurm is up: $(sinfo -h -o '%N %c CPUs %m MiB %t') (SLURM_CONF=$CONF)" >&2
            return
        fi
        sleep 1
    done
    echo "error: the Slurm node did not become idle in 60 s; logs under $DIR" >&2
    tail -n 20 "$DIR"/slurmctld.log "$DIR"/slurmd.log >&2 || true
    stop
    exit 1
}

stop() {
    for d in slurmd slurmctld; do
        if [ -f "$DIR/$d.ours" ]; then
            kill "$(cat "$DIR/$d.ours")" 2>/dev/null || true
            rm -f "$DIR/$d.ours"
        fi
    done
    if [ -f "$DIR/munged.ours" ]; then
        kill "$(cat /run/munge/munged.pid 2>/dev/null)" 2>/dev/null || true
        rm -f "$DIR/munged.ours"
    fi
    sleep 1
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *)
        echo "usage: $0 start|stop|env" >&2
        exit 2
        ;;
esac
