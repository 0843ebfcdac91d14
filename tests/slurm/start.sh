#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests/test_submit_slurm.py (and by hand):
#
#     tests/slurm/start.sh [STATE_DIR]      # default /tmp/cu-slurm; prints `export SLURM_CONF=...` on success
#     SLURM_CONF=STATE_DIR/slurm.conf sbatch --wrap hostname
#     tests/slurm/stop.sh [STATE_DIR]
#
# Needs root. Installs Debian's slurm-wlm and munge with apt-get when they are missing (CU_SLURM_NO_INSTALL=1:
# never install). The configuration lives in STATE_DIR only (slurm.conf, state, logs): /etc/slurm is not
# touched, so the commands need SLURM_CONF=STATE_DIR/slurm.conf. No accounting database (squeue and scontrol
# work, sacct does not; `scontrol show job` keeps a finished job for an hour, MinJobAge), no cgroups
# (proctrack/linuxproc, task/none): it works in containers too.
# Exit status: 0 the cluster answers; 3 not root or no slurm/munge and they cannot be installed (the reason is
# the last line of stderr); 1 another failure (the logs' tails are printed). A requeued job may start again after
# cred_expire (30 s here; Slurm's default, 120 s, would make tests/test_submit_slurm.py wait longer).
set -euo pipefail

STATE=${1:-/tmp/cu-slurm}
why() { echo "cannot start slurm: $*" >&2; exit 3; }

[ "$(id -u)" = 0 ] || why "not root (uid $(id -u)); slurmctld, slurmd and munged need root here"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    [ "${CU_SLURM_NO_INSTALL:-0}" = 1 ] && why "slurm-wlm or munge is not installed (CU_SLURM_NO_INSTALL=1)"
    command -v apt-get >/dev/null || why "slurm-wlm or munge is missing and there is no apt-get"
    echo "installing slurm-wlm and munge with apt-get ..." >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >"$STATE.apt.log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$STATE.apt.log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >>"$STATE.apt.log" 2>&1 \
            || why "apt-get install slurm-wlm munge failed: $(tail -n 2 "$STATE.apt.log" | tr '\n' ' ')"
    fi
fi

mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/munge"
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)

# munge: its own key and socket under STATE (a system munged, if any, is left alone)
SOCKET="$STATE/munge/munge.socket"
if [ ! -f "$STATE/munge/munge.key" ]; then
    dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1 count=1024 status=none
fi
chmod 755 "$STATE/munge"; chmod 400 "$STATE/munge/munge.key"
if ! munge -n -S "$SOCKET" >/dev/null 2>&1; then  # as root (--force): the key and socket are root's, under STATE
    munged --force -S "$SOCKET" --key-file="$STATE/munge/munge.key" --pid-file="$STATE/munge/munged.pid" \
        --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/munged.seed"
fi

cat >"$STATE/slurm.conf" <<EOF
# written by tests/slurm/start.sh: a one-node cluster on $HOST
ClusterName=cu-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCKET,cred_expire=30
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldPort=${CU_SLURM_PORT:-6817}
SlurmdPort=$(( ${CU_SLURM_PORT:-6817} + 1 ))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MinJobAge=3600
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$STATE/slurm.conf"

"$(dirname "$0")/stop.sh" "$STATE" --keep-munge >/dev/null 2>&1 || true
slurmctld -c -f "$SLURM_CONF"   # -c: a clean state (no jobs of an earlier test)
slurmd -f "$SLURM_CONF"

for _ in $(seq 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
        echo "export SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 1
done
echo "slurm did not come up within 60 s; sinfo says: $(sinfo 2>&1 | tr '\n' ' ')" >&2
for log in "$STATE/slurmctld.log" "$STATE/slurmd.log" "$STATE/munge/munged.log"; do
    echo "--- tail of $log" >&2; tail -n 15 "$log" >&2 2>/dev/null || true
done
exit 1
