#!/usr/bin/env bash
# A real SLURM on this machine, for trying run.slurm: munged, slurmctld and one slurmd from Debian's
# packages, configured in DIR (nothing under /etc is touched), for as many CPUs as this machine has.
#
#   scripts/local_slurm.sh up DIR      starts the daemons; DIR/env holds SLURM_CONF for sbatch/srun
#   scripts/local_slurm.sh down DIR    stops them
#   scripts/local_slurm.sh install     installs the Debian packages (slurmctld slurmd slurm-client
#                                      munge), without letting their services start
#
# Needs root (slurmd runs jobs as their user; munged checks its files' owners).
set -euo pipefail

install() {
  local need=()
  for pkg in slurmctld slurmd slurm-client munge; do dpkg -s $pkg >/dev/null 2>&1 || need+=($pkg); done
  [ ${#need[@]} -eq 0 ] && return 0
  # Keep the packages from starting system-wide daemons: this script starts its own.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' > $policy; chmod +x $policy; made_policy=1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  [ $made_policy = 1 ] && rm -f $policy
  return 0
}

up() {
  local dir=$1
  [ "$(id -u)" = 0 ] || { echo "local_slurm: needs root" >&2; exit 1; }
  for tool in munged slurmctld slurmd sbatch; do
    command -v $tool >/dev/null || { echo "local_slurm: $tool is missing (scripts/local_slurm.sh install)" >&2; exit 1; }
  done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir/spool/ctld" "$dir/spool/d" "$dir/munge" "$dir/log"
  chmod 700 "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --force --socket="$dir/munge/socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed"

  local host cpus port
  host=$(hostname)
  cpus=$(nproc)
  # Ports of its own, so that it never meets another SLURM on this machine.
  port=$((20000 + RANDOM % 20000))
  cat > "$dir/slurm.conf" <<EOF
ClusterName=zslocal
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/spool/ctld
SlurmdSpoolDir=$dir/spool/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
  echo "SLURM_CONF=$dir/slurm.conf" > "$dir/env"
  SLURM_CONF="$dir/slurm.conf" slurmctld -f "$dir/slurm.conf"
  SLURM_CONF="$dir/slurm.conf" slurmd -f "$dir/slurm.conf"
  local tries=0
  until SLURM_CONF="$dir/slurm.conf" sinfo -h -o %T 2>/dev/null | grep -q idle; do
    tries=$((tries + 1))
    if [ $tries -gt 150 ]; then
      echo "local_slurm: the node did not come up" >&2
      tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

down() {
  local dir=$1 pid
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    [ -f "$dir/$f" ] || continue
    pid=$(cat "$dir/$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/$f"
  done
}

case "${1:-}" in
  up) up "$2" ;;
  down) down "$2" ;;
  install) install ;;
  *) echo "usage: $0 up DIR | down DIR | install" >&2; exit 2 ;;
esac
