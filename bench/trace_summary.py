#!/usr/bin/env python3
# Where a traced training step spends its GPU time: reads Chrome traces written by
# `bench_gpt --profile` and `torch_gpt.py --profile` (2 steps each) and prints, per trace and per
# step, the GPU kernel time by kind, how much of the collectives ran under compute, and how long
# the compute streams sat idle.
#
#   python3 bench/trace_summary.py ours.json fsdp2.json     (TOP_KERNELS=40: list 40 kernels, not 12)
#
# GAPS=10 also lists the 10 longest stretches where no compute kernel ran, each with the kernels
# around it, the host op whose launch ended it and any synchronising runtime call inside it: where
# the GPU waited for the host.
#
# BY_OP=20 lists the 20 host ops whose kernels took the most GPU time (the innermost op that
# launched each kernel, after the backward function it ran in): which model code a kernel serves.
#
# CLOCK=<regex> follows the kernels whose names match through the trace: their mean duration in ten
# slices of its time. Name a kernel that always does the same work (in the Llama-7B trace the gate
# and up projections' GEMM, 192x192_64x4_2x1_v_bz_coopB_TNN): a GPU that holds its clock shows a
# flat line, one that slows under sustained load (power, heat) shows it here.
import json
import os
import re
import sys

TOP_KERNELS = int(os.environ.get("TOP_KERNELS", "12"))
GAPS = int(os.environ.get("GAPS", "0"))
BY_OP = int(os.environ.get("BY_OP", "0"))
CLOCK = os.environ.get("CLOCK", "")
SYNCING_CALLS = re.compile(r"Synchronize|cudaMemcpy(?!Async)|EventQuery|StreamWaitEvent")

KINDS = [  # first match wins
    ("nccl", r"nccl"),
    ("attention", r"flash|fmha|attention|efficient|sdpa"),  # before gemm: cuDNN's names carry sm90_
    ("gemm", r"gemm|cutlass|xmma|nvjet|cublas|sm\d+_"),
    ("optimizer", r"adam|multi_tensor|foreach|fused_"),
    ("layernorm", r"layer_norm|layernorm"),
    ("softmax/loss", r"softmax|nll_loss|cross_entropy"),
    ("copy/cast", r"memcpy|memset|copy|cast|fill"),
    ("reduction", r"reduce_kernel|norm"),
    ("elementwise", r"elementwise|vectorized|unrolled|gelu|add|mul"),
]


def kind_of(name):
    low = name.lower()
    for kind, pattern in KINDS:
        if re.search(pattern, low):
            return kind
    return "other"


def union_length(intervals):
    total, end = 0.0, -1e30
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def overlap_length(xs, ys):
    """Length of the union of xs that lies inside the union of ys."""
    def merged(iv):
        out = []
        for a, b in sorted(iv):
            if out and a <= out[-1][1]:
                out[-1][1] = max(out[-1][1], b)
            else:
                out.append([a, b])
        return out
    xs, ys = merged(xs), merged(ys)
    i = j = 0
    total = 0.0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if a < b:
            total += b - a
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return total


def summarize(path, steps=2):
    with open(path) as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    kernels = [e for e in events if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    if not kernels:
        print(f"{path}: no GPU kernels in the trace")
        return
    start = min(e["ts"] for e in kernels)
    end = max(e["ts"] + e["dur"] for e in kernels)
    by_kind = {}
    comm, compute = [], []
    for e in kernels:
        kind = kind_of(e.get("name", ""))
        by_kind[kind] = by_kind.get(kind, 0.0) + e["dur"]
        (comm if kind == "nccl" else compute).append((e["ts"], e["ts"] + e["dur"]))
    span = (end - start) / steps / 1e3
    busy = union_length(compute) / steps / 1e3
    comm_total = union_length(comm) / steps / 1e3
    hidden = overlap_length(comm, compute) / steps / 1e3
    print(f"\n{path}: {steps} steps, per step (ms)")
    print(f"  GPU span {span:8.2f}   compute busy {busy:8.2f}   compute idle {span - busy:7.2f}")
    print(f"  collectives {comm_total:8.2f}   of which under compute {hidden:7.2f}   exposed {comm_total - hidden:7.2f}")
    for kind, us in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:14s} {us / steps / 1e3:8.2f}")
    top, calls = {}, {}
    for e in kernels:
        top[e["name"]] = top.get(e["name"], 0.0) + e["dur"]
        calls[e["name"]] = calls.get(e["name"], 0) + 1
    print(f"  top kernels (ms and launches a step; {len(kernels) / steps:.0f} launches in all):")
    for name, us in sorted(top.items(), key=lambda kv: -kv[1])[:TOP_KERNELS]:
        print(f"    {us / steps / 1e3:7.2f} {calls[name] / steps:6.0f}  {name[:104]}")
    if GAPS:
        print_gaps(events, [e for e in kernels if kind_of(e.get("name", "")) != "nccl"])
    if BY_OP:
        print_by_op(events, kernels, steps)
    if CLOCK:
        print_clock(kernels, start, end)


def innermost_op(ops, ts):
    """The shortest host op (cpu_op) that encloses time ts, or None."""
    best = None
    for o in ops:
        if o["ts"] <= ts <= o["ts"] + o["dur"] and (best is None or o["dur"] < best["dur"]):
            best = o
    return best


def print_gaps(events, compute):
    runtime = [e for e in events if e.get("ph") == "X" and e.get("cat") == "cuda_runtime"]
    ops = [e for e in events if e.get("ph") == "X" and e.get("cat") == "cpu_op"]
    launch_of = {e.get("args", {}).get("correlation"): e for e in runtime}
    compute = sorted(compute, key=lambda e: e["ts"])
    gaps, end, last = [], -1e30, None
    for e in compute:
        if last is not None and e["ts"] > end:
            gaps.append((e["ts"] - end, end, last, e))
        if e["ts"] + e["dur"] > end:
            end, last = e["ts"] + e["dur"], e
    total = sum(g[0] for g in gaps)
    print(f"  compute gaps: {len(gaps)} totalling {total / 1e3:.2f} ms; the {GAPS} longest (us):")
    for length, start, before, after in sorted(gaps, key=lambda g: -g[0])[:GAPS]:
        launch = launch_of.get(after.get("args", {}).get("correlation"))
        op = innermost_op(ops, launch["ts"]) if launch else None
        syncs = sorted({r["name"] for r in runtime if start <= r["ts"] <= start + length and SYNCING_CALLS.search(r["name"])})
        print(f"    {length:8.1f}  after {before['name'][:50]!r} before {after['name'][:50]!r}")
        print(f"              launched by {op['name'] if op else '?'!r}; host calls inside: {', '.join(syncs) or '-'}")


def launching_ops(events):
    """For each kernel launch's correlation id, a label naming the host op that launched it: the
    innermost enclosing cpu_op on the launching thread, after the autograd function around it."""
    per_thread = {}
    for e in events:
        if e.get("ph") == "X" and e.get("cat") in ("cpu_op", "cuda_runtime", "cuda_driver"):
            per_thread.setdefault((e.get("pid"), e.get("tid")), []).append(e)
    labels = {}
    for evs in per_thread.values():
        # Ops open before the launches they enclose; at one start time the longer op encloses.
        evs.sort(key=lambda e: (e["ts"], e.get("cat") != "cpu_op", -e["dur"]))
        stack = []
        for e in evs:
            while stack and stack[-1]["ts"] + stack[-1]["dur"] < e["ts"]:
                stack.pop()
            if e["cat"] == "cpu_op":
                stack.append(e)
                continue
            corr = e.get("args", {}).get("correlation")
            if corr is None or not stack:
                continue
            inner = stack[-1]["name"]
            outer = next((o["name"].split(": ", 1)[-1] for o in reversed(stack)
                          if o["name"].startswith("autograd::engine::evaluate_function")), "")
            labels[corr] = f"{outer} > {inner}" if outer and outer != inner else inner
    return labels


def print_by_op(events, kernels, steps):
    labels = launching_ops(events)
    by_op, calls, names = {}, {}, {}
    for e in kernels:
        label = labels.get(e.get("args", {}).get("correlation"), "?")
        by_op[label] = by_op.get(label, 0.0) + e["dur"]
        calls[label] = calls.get(label, 0) + 1
        names.setdefault(label, {})
        short = e["name"][:40]
        names[label][short] = names[label].get(short, 0.0) + e["dur"]
    print(f"  GPU time by launching host op (ms and kernels a step; the {BY_OP} largest):")
    for label, us in sorted(by_op.items(), key=lambda kv: -kv[1])[:BY_OP]:
        main = max(names[label].items(), key=lambda kv: kv[1])[0]
        print(f"    {us / steps / 1e3:7.2f} {calls[label] / steps:6.0f}  {label[:70]}  [{main}]")


def print_clock(kernels, start, end, slices=10):
    runs = [e for e in kernels if re.search(CLOCK, e["name"])]
    if not runs:
        print(f"  CLOCK: no kernel matches {CLOCK!r}")
        return
    width = (end - start) / slices
    sums, counts = [0.0] * slices, [0] * slices
    for e in runs:
        i = min(int((e["ts"] - start) / width), slices - 1)
        sums[i] += e["dur"]
        counts[i] += 1
    fastest = min(e["dur"] for e in runs)
    print(f"  {len(runs)} launches of {CLOCK!r} through the trace (fastest {fastest:.0f} us):")
    for i in range(slices):
        if counts[i]:
            mean = sums[i] / counts[i]
            print(f"    from {i * width / 1e3:7.1f} ms: {counts[i]:4d} launches, mean {mean:7.1f} us ({mean / fastest:.2f}x the fastest)")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        summarize(p)
