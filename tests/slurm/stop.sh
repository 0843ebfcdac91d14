#!/usr/bin/env bash
# Stop the one-node Slurm of tests/slurm/start.sh: cancel its jobs, stop slurmd, slurmctld and its munged
# (by the pid files under STATE_DIR, never by name). `--keep-munge` leaves munged running.
#
#     tests/slurm/stop.sh [STATE_DIR] [--keep-munge]
set -uo pipefail

STATE=${1:-/tmp/cu-slurm}
export SLURM_CONF="$STATE/slurm.conf"

stop_pid_file() {  # stop the process whose pid the file holds, wait up to 10 s, then SIGKILL it
    local file=$1 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file" 2>/dev/null) || return 0
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || { rm -f "$file"; return 0; }
    kill "$pid" 2>/dev/null
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    rm -f "$file"
}

if [ -f "$SLURM_CONF" ] && command -v scancel >/dev/null; then
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    sleep 1
fi
stop_pid_file "$STATE/slurmd.pid"
stop_pid_file "$STATE/slurmctld.pid"
[ "${2:-}" = --keep-munge ] || stop_pid_file "$STATE/munge/munged.pid"
exit 0
