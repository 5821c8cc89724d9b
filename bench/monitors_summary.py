#!/usr/bin/env python3
"""The GPU visit's `monitors` step, summarised: bench_gpt runs of one model with every monitor on
and off (alternating), and what the monitors themselves measured in the "on" runs.

    python bench/monitors_summary.py <folder>

<folder> holds bench.jsonl (bench_gpt's JSON lines, "monitors": true/false), on_<k>.log (the runs'
output: the comms_logger table) and run_<k>/ (metrics.jsonl, flops_profile.txt) for each "on" run.
Prints:
  - wall-clock parts: forward + backward + step against the measured step time (timed steps);
  - flops profiler: counted training FLOPs per token against 6N + 12*L*d*T;
  - comms logger: reduce_scatter and all_gather bus bandwidth of the largest messages;
  - tok/s with the monitors on vs off (medians of each run, then the mean over runs).
Plain Python (no packages).
"""
import glob
import json
import os
import re
import statistics
import sys


def load_jsonl(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        pass
    return rows


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "."
    bench = load_jsonl(os.path.join(folder, "bench.jsonl"))
    on = [r["tok_s_per_gpu"] for r in bench if r.get("monitors")]
    off = [r["tok_s_per_gpu"] for r in bench if not r.get("monitors")]
    print("== monitors: every monitor on vs off")
    if on and off:
        m_on, m_off = statistics.mean(on), statistics.mean(off)
        print(f"tok/s per GPU: off {m_off:,.0f} ({', '.join(f'{x:,.0f}' for x in off)}) | "
              f"on {m_on:,.0f} ({', '.join(f'{x:,.0f}' for x in on)}) | cost {100 * (1 - m_on / m_off):.2f}% (target <= 1%)")
    else:
        print(f"tok/s: missing runs (on: {len(on)}, off: {len(off)}); see the *.log files")

    for run in sorted(glob.glob(os.path.join(folder, "run_*"))):
        name = os.path.basename(run)
        steps = load_jsonl(os.path.join(run, "metrics.jsonl"))
        # The warm-up steps (and the profiled one) are left out: the last 10 steps are the timed ones.
        timed = steps[-10:] if len(steps) > 10 else steps[1:]
        ratios = []
        for s in timed:
            parts = sum(s.get(f"elapsed_time_ms_{p}", 0.0) for p in ("forward", "backward", "step"))
            if s.get("seconds"):
                ratios.append(parts / (1e3 * s["seconds"]))
        if ratios:
            comm = statistics.mean(s.get("elapsed_time_ms_communication", 0.0) for s in timed)
            step_ms = statistics.mean(1e3 * s["seconds"] for s in timed)
            print(f"{name}: wall-clock parts / step time = {statistics.mean(ratios):.4f} "
                  f"(min {min(ratios):.4f}, max {max(ratios):.4f}; target within 5%); step {step_ms:.1f} ms, "
                  f"communication {comm:.1f} ms (overlapped)")
        else:
            print(f"{name}: no metrics.jsonl steps")
        profile = os.path.join(run, "flops_profile.txt")
        if os.path.exists(profile):
            text = open(profile).read()
            m = re.search(r"counted / formula = ([0-9.]+)", text)
            mfu = re.search(r"MFU \(training FLOPS / peak\):\s+(.*)", text)
            print(f"{name}: flops profiler counted / (6N + 12*L*d*T) = {m.group(1) if m else '?'} (target within 2%)"
                  f"; MFU at the profiled step {mfu.group(1) if mfu else '?'}")
        else:
            print(f"{name}: no flops_profile.txt")

    for log in sorted(glob.glob(os.path.join(folder, "on_*.log"))):
        best = {}
        for line in open(log, errors="replace"):
            line = re.sub(r"^\[rank \d+\] ", "", line)
            m = re.match(r"^(reduce_scatter|all_gather|all_reduce|broadcast)?\s+([0-9.]+ [KMG]?i?B)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s*$", line)
            if m:
                op = m.group(1) or best.get("_last", "")
                best["_last"] = op
                size, count, busbw = m.group(2), int(m.group(3)), float(m.group(7))
                if op and (op not in best or busbw > best[op][2]):
                    best[op] = (size, count, busbw)
        shown = [f"{op} {v[2]:.1f} GB/s (at {v[0]}, {v[1]} calls)" for op, v in best.items() if op in ("reduce_scatter", "all_gather")]
        print(f"{os.path.basename(log)}: comms logger best bus bandwidth: {'; '.join(shown) if shown else 'no table found'}"
              " (REFERENCE.md, torch at 512 MiB on 2 GPUs: reduce_scatter 244, all_gather 256 GB/s)")


if __name__ == "__main__":
    main()
