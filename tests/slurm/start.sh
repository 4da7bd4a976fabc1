#!/usr/bin/env bash
# Start a real single-node SLURM cluster on this Debian machine, without systemd: munge, mariadb,
# slurmdbd (so that sacct, which the executor plugin polls, sees every job), slurmctld and slurmd,
# with fake GPUs declared as gres so that jobs asking for `gpu: 1` schedule.
# Must run as root. Idempotent: a daemon that is already running is left alone.
# Prints nothing on stdout but the final `sinfo`; progress goes to stderr.
#
#   SLURM_FAKE_GPUS  number of fake GPUs on the node (default 1)
#   SLURM_MEM_MB     RealMemory of the node (default 80% of this machine's memory)
#   SLURM_CPUS       CPUs the node offers to jobs (default: the machine's, as slurmd detects them);
#                    more oversubscribes the machine, so that two runs' jobs need not queue
#
# Stop everything again with tests/slurm/stop.sh (each daemon by the PID in its pid file).
set -euo pipefail
FAKE_GPUS=${SLURM_FAKE_GPUS:-1}
export DEBIAN_FRONTEND=noninteractive
say() { echo "[slurm start $(date +%T)] $*" >&2; }
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# until SECONDS COMMAND...: poll every half second; fail naming the command when time runs out
until_ok() {
  local tries=$(( $1 * 2 )); shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "slurm start: gave up waiting for: $*" >&2
  return 1
}

if [ "$(id -u)" != 0 ]; then echo "slurm start: must run as root" >&2; exit 2; fi

packages="munge slurmctld slurmd slurm-client slurmdbd mariadb-server"
missing=""
for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  say "installing$missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

node=$(hostname -s)
mem_mb=${SLURM_MEM_MB:-$(( $(free -m | awk '/^Mem:/{print $2}') * 8 / 10 ))}
# CPUs, sockets, cores and threads as slurmd detects them, or only a number of CPUs that slurmd
# then takes from this file (config_overrides); memory is ours to set
if [ -n "${SLURM_CPUS:-}" ]; then
  hardware="CPUs=$SLURM_CPUS RealMemory=$mem_mb"
  slurmd_parameters="SlurmdParameters=config_overrides"
else
  hardware=$(slurmd -C | head -1 | sed -E "s/^NodeName=[^ ]+ //; s/RealMemory=[0-9]+/RealMemory=$mem_mb/")
  slurmd_parameters=""
fi
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm

gres=""
if [ "$FAKE_GPUS" -gt 0 ]; then
  gres="Gres=gpu:$FAKE_GPUS"
  # slurmd accepts a GPU only as a character device; copies of /dev/null (char 1,3) serve
  for i in $(seq 0 $(( FAKE_GPUS - 1 ))); do
    [ -c "/dev/fakegpu$i" ] || mknod -m 666 "/dev/fakegpu$i" c 1 3
  done
  printf 'AutoDetect=off\nNodeName=%s Name=gpu File=/dev/fakegpu[0-%d]\n' "$node" $(( FAKE_GPUS - 1 )) \
    > /etc/slurm/gres.conf
fi

cat > /etc/slurm/slurm.conf <<CONF
ClusterName=gmnrep
SlurmctldHost=$node
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
GresTypes=gpu
# finished jobs stay visible to squeue for an hour, for --slurm-status-command squeue
MinJobAge=3600
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
$slurmd_parameters
NodeName=$node NodeAddr=127.0.0.1 $hardware $gres State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 755 /run/munge
if ! running /run/munge/munged.pid; then
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged
fi
until_ok 10 sh -c 'munge -n | unmunge'

mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld
[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
if ! running /run/mysqld/mysqld.pid; then
  say "starting mariadbd"
  setsid mariadbd --user=mysql --skip-log-bin --innodb-buffer-pool-size=128M \
    --pid-file=/run/mysqld/mysqld.pid >/var/log/slurm/mariadbd.log 2>&1 </dev/null &
fi
until_ok 60 mariadb-admin ping
mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
  CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'gmnrep';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=gmnrep
StorageLoc=slurm_acct_db
CONF
chmod 600 /etc/slurm/slurmdbd.conf
if ! running /run/slurmdbd.pid; then
  say "starting slurmdbd"
  slurmdbd
fi
until_ok 60 sacctmgr -n list cluster
sacctmgr -n list cluster format=cluster | grep -qw gmnrep || sacctmgr -i add cluster gmnrep >/dev/null
sacctmgr -n list account format=account | grep -qw gmnrep ||
  sacctmgr -i add account gmnrep Description=gmnrep Organization=gmnrep >/dev/null
sacctmgr -n list user format=user | grep -qw root ||
  sacctmgr -i add user root Account=gmnrep DefaultAccount=gmnrep >/dev/null

if running /run/slurmctld.pid; then
  scontrol reconfigure
else
  say "starting slurmctld"
  slurmctld
fi
until_ok 30 scontrol ping
if ! running /run/slurmd.pid; then
  say "starting slurmd"
  slurmd
fi
until_ok 60 sh -c "sinfo -h -n '$node' -o %T | grep -qE '^(idle|mixed|allocated)'"
sinfo
say "SLURM is up: node $node, $FAKE_GPUS fake GPU(s), accounting through slurmdbd"
