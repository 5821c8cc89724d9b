#!/usr/bin/env bash
# The fault table: how long a job takes to end after a rank dies or hangs, with default settings.
# Each row starts train_gpt on CPU ranks, waits until it trains, then sends SIGKILL or SIGSTOP to
# rank processes (found by their environment: every process of the run carries ZS_FAULT_RUN), and
# measures the seconds until zsrun has exited and every rank process is gone, zsrun's exit code and
# its summary line. Multi-node rows run on a cluster of two hosts made by scripts/fake_cluster.sh
# (network namespaces with sshd: needs root); GPU-style rows (a node-local zsrun per node over ssh)
# run ranks that do not communicate, so they show what the launcher does alone.
#
#   bench/fault_table.sh [build-dir]        (prints a Markdown table; logs in $OUT, default /tmp/zs_faults)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$root/build}/bin
OUT=${OUT:-/tmp/zs_faults}
mkdir -p "$OUT"
cluster=$OUT/cluster
"$root/scripts/fake_cluster.sh" up "$cluster" 2 >/dev/null || { echo "no cluster: multi-node rows need root"; exit 1; }
trap '"$root/scripts/fake_cluster.sh" down "$cluster"' EXIT
export ZS_SSH_ARGS="-F $cluster/ssh_config"
export OMP_NUM_THREADS=1
train="$B/train_gpt --device=cpu --dtype=float32 --n_layer=2 --n_head=2 --n_embd=64 --block_size=64 --batch_size=8 \
  --max_iters=100000 --eval_interval=0 --log_interval=1 --sample_tokens=0"

# Pids of the run's rank processes (optionally only ranks in $2), from their environment.
rank_pids() {
  local run=$1 want=${2:-} p rank
  for p in $(pgrep -x "$3" 2>/dev/null); do
    tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "ZS_FAULT_RUN=$run" || continue
    rank=$(tr '\0' '\n' < /proc/$p/environ | sed -n 's/^RANK=//p')
    [ -z "$want" ] || [[ " $want " == *" $rank "* ]] && echo "$p"
  done
}
alive() {  # running (not zombie) processes among the pids given
  local p n=0
  for p in "$@"; do [ -e /proc/$p ] && [ "$(cut -d' ' -f3 /proc/$p/stat)" != Z ] && n=$((n + 1)); done
  echo $n
}

row() {  # row NAME SIGNAL RANKS PROGRAM ZSRUN_ARGS...
  local name=$1 sig=$2 ranks=$3 prog=$4; shift 4
  local run=fault$RANDOM$RANDOM log="$OUT/$(echo "$name" | tr ' ,/' '___').log"
  ZS_FAULT_RUN=$run "$B/zsrun" "$@" > "$log" 2>&1 &
  local zs=$! t=0
  # Trains (or, for plain processes, runs) once every rank process is there and a step went by.
  until [ "$(rank_pids $run "" "$prog" | wc -l)" -ge "${WORLD:-4}" ] && { [ "$prog" != train_gpt ] || grep -q "step 3/" "$log"; }; do
    sleep 0.2; t=$((t + 1)); [ $t -gt 600 ] && { echo "| $name | did not start | | |"; kill -9 $zs; return; }
  done
  local all targets
  all=$(rank_pids $run "" "$prog")
  targets=$(rank_pids $run "$ranks" "$prog")
  local t0 t1 t2 now
  t0=$(date +%s%N)
  kill -"$sig" $targets
  wait $zs
  local rc=$?
  t1=$(date +%s%N)
  while [ "$(alive $all)" != 0 ]; do
    sleep 0.1
    now=$(date +%s%N)
    [ $(( (now - t0) / 1000000000 )) -gt 300 ] && break
  done
  t2=$(date +%s%N)
  local msg
  msg=$(grep "^zsrun" "$log" | tail -1 | cut -c1-220)
  printf '| %s | %d.%d | %d.%d | %s | %s |\n' "$name" $(( (t1 - t0) / 1000000000 )) $(( (t1 - t0) / 100000000 % 10 )) \
    $(( (t2 - t0) / 1000000000 )) $(( (t2 - t0) / 100000000 % 10 )) "$rc" "$msg"
}

h=$(cut -d' ' -f2 "$cluster/hosts" | head -1); h2=$(cut -d' ' -f2 "$cluster/hosts" | tail -1)
echo "| fault (CPU ranks, default ZS_HANG_TIMEOUT) | zsrun exits (s) | every rank gone (s) | exit code | zsrun's summary |"
echo "|---|---|---|---|---|"
WORLD=2 row "1 node x 2 ranks: SIGKILL rank 1" KILL 1 train_gpt --num_procs 2 $train
WORLD=2 row "1 node x 2 ranks: SIGSTOP rank 1" STOP 1 train_gpt --num_procs 2 $train
WORLD=2 row "1 node x 2 ranks: SIGSTOP rank 0 (serves the store)" STOP 0 train_gpt --num_procs 2 $train
row "2 nodes x 2 ranks: SIGKILL rank 3 (node 2)" KILL 3 train_gpt --hostfile "$cluster/hostfile" --num_procs 2 $train
row "2 nodes x 2 ranks: SIGSTOP rank 3 (node 2)" STOP 3 train_gpt --hostfile "$cluster/hostfile" --num_procs 2 $train
row "2 nodes x 2 ranks: SIGKILL every rank of node 2" KILL "2 3" train_gpt --hostfile "$cluster/hostfile" --num_procs 2 $train
row "2 nodes x 2 ranks: SIGSTOP every rank of node 2" STOP "2 3" train_gpt --hostfile "$cluster/hostfile" --num_procs 2 $train
row "ssh, 2 nodes x 2 plain ranks: SIGKILL rank 3" KILL 3 sleep --hostfile "$cluster/hostfile" --num_gpus 2 sleep 600
row "ssh, 2 nodes x 2 plain ranks: SIGKILL every rank of node 2" KILL "2 3" sleep --hostfile "$cluster/hostfile" --num_gpus 2 sleep 600
