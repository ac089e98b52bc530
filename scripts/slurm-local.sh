#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying `mtlbench slurm` and for CI.
#
#   scripts/slurm-local.sh start   # installs slurm-wlm + munge when missing (Debian, as root),
#                                  # starts munged, slurmctld and slurmd; prints SLURM_CONF
#   scripts/slurm-local.sh stop    # stops them by PID and removes the state directory
#
# The configuration is generated into $MTLBENCH_SLURM_DIR (default /tmp/mtlbench-slurm),
# fresh at each start (old jobs never come back). Every Slurm command needs
# SLURM_CONF=$MTLBENCH_SLURM_DIR/slurm.conf in its environment.
set -euo pipefail

DIR="${MTLBENCH_SLURM_DIR:-/tmp/mtlbench-slurm}"
CONF="$DIR/slurm.conf"

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-local: slurm-wlm and munge are not installed, and installing them needs root" >&2
    exit 1
  fi
  echo "slurm-local: installing slurm-wlm and munge" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq slurm-wlm munge >/dev/null
}

start_munge() {
  mkdir -p /run/munge /var/lib/munge /var/log/munge /etc/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    # Only a munged started here is stopped by `stop`.
    touch "$DIR/munged.started"
    for _ in $(seq 50); do
      munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  munge -n | unmunge >/dev/null
}

write_conf() {
  local host node
  host="$(hostname -s)"
  # slurmd -C describes this machine; RealMemory is lowered so that the node is never
  # declared to have more than it has (that takes it out of service).
  node="$(slurmd -C | sed -n '1s/RealMemory=[0-9]*/RealMemory=1000/p')"
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  cat >"$CONF" <<EOF
ClusterName=mtlbench-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
DependencyParameters=kill_invalid_depend
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
$node
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  install_packages
  stop_daemons
  rm -rf "$DIR"
  mkdir -p "$DIR"
  start_munge
  write_conf
  setsid slurmctld -D -f "$CONF" >"$DIR/log/slurmctld.out" 2>&1 </dev/null &
  echo $! >"$DIR/slurmctld.run.pid"
  setsid slurmd -D -f "$CONF" >"$DIR/log/slurmd.out" 2>&1 </dev/null &
  echo $! >"$DIR/slurmd.run.pid"
  export SLURM_CONF="$CONF"
  local state=""
  for _ in $(seq 150); do
    state="$(sinfo -h -o %T 2>/dev/null | head -n 1 || true)"
    [ "$state" = "idle" ] && break
    sleep 0.2
  done
  if [ "$state" != "idle" ]; then
    echo "slurm-local: the node did not come up (state: '${state:-none}'); logs in $DIR/log" >&2
    tail -n 20 "$DIR"/log/*.log >&2 || true
    exit 1
  fi
  echo "export SLURM_CONF=$CONF"
}

stop_daemons() {
  for name in slurmd slurmctld; do
    local pidfile="$DIR/$name.run.pid"
    if [ -f "$pidfile" ]; then
      local pid
      pid="$(cat "$pidfile")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pidfile"
    fi
  done
}

stop() {
  stop_daemons
  if [ -f "$DIR/munged.started" ] && [ -f /run/munge/munged.pid ]; then
    kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  install) install_packages ;;
  *)
    echo "usage: $0 start|stop|install" >&2
    exit 2
    ;;
esac
