# bench/gpu_visit.sh steps: two "nodes" over sockets through the multi-node launcher, and ZeRO++.
# Sourced by gpu_visit.sh, which defines has, note, ds_setup, $B, $PY, $NGPU, $OUT and $results.
if has multinode; then
  # Issue 12 on 2 GPUs. (1) GPT-2 350M stage 2, 1 node x 2 GPUs against 2 "nodes" x 1 GPU: two
  # node-local zsruns (--no_ssh; the loopback addresses 127.0.0.2/.3 as hosts), NCCL kept to sockets
  # (no P2P, no shared memory), so the ranks talk as across machines; tok/s/GPU of both. (2) A GPU rank
  # killed mid-step, and one stopped (SIGSTOP: the watchdog aborts the NCCL communicators): seconds
  # until every rank is gone, exit code, zsrun's summary.
  note "multi-node: GPT-2 350M stage 2, 1x2 GPUs vs 2x1 GPU over sockets; GPU rank killed / stopped mid-step"
  mn=$OUT/multinode; mkdir -p "$mn"
  printf '127.0.0.2 slots=1\n127.0.0.3 slots=1\n' > "$mn/hostfile"
  timeout 300 $B/bin/zsrun --num_gpus 2 $B/bin/bench_gpt --model 350M --stage 2 --label "1 node x 2 GPUs" \
    2>> "$mn/one_node.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  for node in 0 1; do
    # Node 1 sees GPU 1 as its only device (CUDA_VISIBLE_DEVICES), as on a machine of its own.
    CUDA_VISIBLE_DEVICES=$node NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_SOCKET_IFNAME=lo timeout 300 \
      $B/bin/zsrun --hostfile "$mn/hostfile" --no_ssh --node_rank $node --master_port 29720 \
      $B/bin/bench_gpt --model 350M --stage 2 --label "2 nodes x 1 GPU, sockets" > "$mn/node$node.log" 2>&1 &
  done
  wait
  sed 's/^\[127.0.0.2 rank 0\] //' "$mn/node0.log" | grep '^{' | tee -a "$results"
  grep -E "error|Error" "$mn"/node*.log | head -5
  gpu_fault() {  # gpu_fault SIGNAL: signal rank 1 after 3 timed steps; seconds until every rank is gone
    ZS_FAULT_RUN=gpu$1 $B/bin/zsrun --num_gpus 2 $B/bin/bench_gpt --model 350M --stage 2 --warmup 2 --steps 100000 \
      > "$mn/fault_$1.log" 2>&1 &
    local zs=$! pids="" t0 t1 p
    for _ in $(seq 600); do
      pids=$(for p in $(pgrep -x bench_gpt); do tr '\0' '\n' < /proc/$p/environ | grep -qx ZS_FAULT_RUN=gpu$1 && echo $p; done)
      [ "$(echo $pids | wc -w)" -ge 2 ] && grep -q "step 5" "$mn/fault_$1.log" && break
      sleep 0.2
    done
    victim=$(for p in $pids; do tr '\0' '\n' < /proc/$p/environ | grep -qx RANK=1 && echo $p; done)
    t0=$(date +%s%N); kill -$1 $victim; wait $zs; rc=$?
    while for p in $pids; do [ -e /proc/$p ] && [ "$(cut -d' ' -f3 /proc/$p/stat)" != Z ] && echo x; done | grep -q x; do sleep 0.1; done
    t1=$(date +%s%N)
    echo "GPU rank 1 $1: every rank gone after $(( (t1 - t0) / 1000000 )) ms, exit code $rc: $(grep '^zsrun' "$mn/fault_$1.log" | tail -1)" \
      | tee -a "$OUT/visit.log"
  }
  gpu_fault KILL
  gpu_fault STOP
fi
if has zeropp; then
  # ZeRO++ over sockets (issue 15): GPT-2 1.5B, stage 3, bf16, on 2 "nodes" of one GPU each (two
  # node-local zsruns as in the multinode step, NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 over loopback),
  # plain and with each of qwZ, qgZ, hpZ and all three; tok/s of each. With one GPU per node qgZ runs
  # its single int8 hop (its two-hop form needs several ranks per node), and hpZ 2 spans both
  # "nodes" (its group is then the world: it exercises the path but cannot keep traffic on a node);
  # on one node of 2 GPUs (sockets still) the hpZ group is the node. The comms_logger run of the
  # plain case gives the link's measured bus bandwidth (all_gather rows).
  note "ZeRO++: GPT-2 1.5B stage 3 over sockets, 2 nodes x 1 GPU, plain / qwZ / qgZ / hpZ / all"
  zp=$OUT/zeropp; mkdir -p "$zp"
  printf '127.0.0.2 slots=1\n127.0.0.3 slots=1\n' > "$zp/hostfile"
  zeropp_run() {  # zeropp_run LABEL PORT [bench_gpt flags...]: both nodes, rank 0's JSON line
    local label=$1 port=$2; shift 2
    for node in 0 1; do
      CUDA_VISIBLE_DEVICES=$node NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_SOCKET_IFNAME=lo timeout 400 \
        $B/bin/zsrun --hostfile "$zp/hostfile" --no_ssh --node_rank $node --master_port $port \
        $B/bin/bench_gpt --model 1.5B --stage 3 --micro 4 --warmup 2 --steps 6 --label "$label" "$@" \
        > "$zp/$label.node$node.log" 2>&1 &
    done
    wait
    sed 's/^\[127.0.0.2 rank 0\] //' "$zp/$label.node0.log" | grep '^{' | tee -a "$results"
    grep -E "error|Error" "$zp/$label".node*.log | head -5
  }
  zeropp_run "zeropp plain, 2x1 sockets" 29731
  zeropp_run "zeropp qwZ, 2x1 sockets" 29732 --quantized_weights
  zeropp_run "zeropp qgZ, 2x1 sockets" 29733 --quantized_gradients
  zeropp_run "zeropp hpZ 2, 2x1 sockets" 29734 --hpz 2
  zeropp_run "zeropp qwZ+qgZ+hpZ, 2x1 sockets" 29735 --quantized_weights --quantized_gradients --hpz 2
  zeropp_run "zeropp plain with comms_logger, 2x1 sockets" 29736 --monitors "$zp/monitors"
  grep -A12 -i "all_gather" "$zp/zeropp plain with comms_logger, 2x1 sockets.node0.log" | head -14 | tee -a "$OUT/visit.log"
  # One node of 2 GPUs over sockets: hpZ's group is the node; and the NVLink cost of each when on.
  for extra in "" "--quantized_weights" "--quantized_gradients" "--hpz 2" "--quantized_weights --quantized_gradients --hpz 2"; do
    NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 timeout 400 $B/bin/zsrun --num_gpus 2 $B/bin/bench_gpt --model 1.5B --stage 3 \
      --micro 4 --warmup 2 --steps 6 --label "zeropp ${extra:-plain}, 1x2 sockets" $extra 2>> "$zp/one_node.err" \
      | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
    timeout 400 $B/bin/zsrun --num_gpus 2 $B/bin/bench_gpt --model 1.5B --stage 3 --micro 4 --warmup 2 --steps 6 \
      --label "zeropp ${extra:-plain}, 1x2 NVLink" $extra 2>> "$zp/nvlink.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  done
fi
