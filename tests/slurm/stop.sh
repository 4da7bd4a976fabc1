#!/usr/bin/env bash
# Stop the daemons that tests/slurm/start.sh started, each by the PID in its own pid file (nothing is
# killed by name), the SLURM daemons before the database and munge they use. SLURM_PURGE=1 also
# removes the job state, spool and logs.
set -u
stop() { # stop NAME PIDFILE
  local pid
  [ -s "$2" ] || return 0
  pid=$(cat "$2")
  if kill -0 "$pid" 2>/dev/null; then
    echo "[slurm stop] $1 (pid $pid)" >&2
    kill -TERM "$pid"
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "[slurm stop] $1 ignored SIGTERM for 10 s: SIGKILL" >&2
      kill -KILL "$pid"
    fi
  fi
  rm -f "$2"
}
# Each daemon takes about 2 s to exit; those that do not depend on each other stop side by side.
stop slurmd /run/slurmd.pid & stop slurmctld /run/slurmctld.pid & wait
stop slurmdbd /run/slurmdbd.pid
stop mariadbd /run/mysqld/mysqld.pid & stop munged /run/munge/munged.pid & wait
if [ "${SLURM_PURGE:-0}" = 1 ]; then
  rm -rf /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
fi
exit 0
