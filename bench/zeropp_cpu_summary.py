#!/usr/bin/env python3
"""The table and CSV of bench/zeropp_cpu.sh: per-step losses of each run (name=metrics.jsonl, the
first one the plain stage-3 run every other is compared with) into losses.csv, and the final losses
into final_losses.md; with matplotlib (scripts/monitor_venv.sh) also loss_diff.png, each run's
per-step loss difference from the reference in percent.

    python3 bench/zeropp_cpu_summary.py --out DIR --ranks 4 plain=a.jsonl qwZ=b.jsonl ...
"""
import argparse
import csv
import json
import os
import statistics
import sys


def losses(path):
    by_step = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                record = json.loads(line)
                if "loss" in record and "step" in record:
                    by_step[int(record["step"])] = float(record["loss"])
    return by_step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--ranks", type=int, required=True)
    parser.add_argument("--tail", type=int, default=20, help="steps averaged at the end")
    parser.add_argument("runs", nargs="+", help="name=metrics.jsonl; the first is the reference")
    args = parser.parse_args()

    runs = []
    for item in args.runs:
        name, _, path = item.partition("=")
        runs.append((name, losses(path)))
    ref_name, ref = runs[0]
    steps = sorted(ref)
    if not steps:
        sys.exit(f"{ref_name}: no losses")
    for name, run in runs:
        if sorted(run) != steps:
            sys.exit(f"{name}: its steps differ from {ref_name}'s")
    last = steps[-1]
    tail = steps[-args.tail:]

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "losses.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step"] + [name for name, _ in runs])
        for s in steps:
            w.writerow([s] + [f"{run[s]:.6f}" for _, run in runs])

    def rel(a, b):
        return (a - b) / b * 100

    ref_tail = statistics.mean(ref[s] for s in tail)
    lines = [
        f"# ZeRO++ on {args.ranks} CPU ranks: final losses after {last} steps of shakespeare_char",
        "",
        f"Stage 3, fp32, a 4-layer GPT (n_embd 128, block 64), same seed and data order in every run;",
        f"loss = the step's global mean loss; mean of the last {len(tail)} steps, and the largest",
        f"per-step difference from plain stage 3 over all {len(steps)} steps.",
        "",
        f"| run | loss at step {last} | vs plain | mean of last {len(tail)} | vs plain | largest per-step diff |",
        "|---|---|---|---|---|---|",
    ]
    for name, run in runs:
        t = statistics.mean(run[s] for s in tail)
        worst = max(abs(rel(run[s], ref[s])) for s in steps)
        lines.append(f"| {name} | {run[last]:.4f} | {rel(run[last], ref[last]):+.2f}% | {t:.4f} | "
                     f"{rel(t, ref_tail):+.2f}% | {worst:.2f}% |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "final_losses.md"), "w") as f:
        f.write(text)
    print(text)

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib: loss_diff.png not written")
        return
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, run in runs[1:]:
        ax.plot(steps, [rel(run[s], ref[s]) for s in steps], label=name, linewidth=1)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("step")
    ax.set_ylabel(f"loss vs {ref_name} (%)")
    ax.set_title(f"ZeRO++ on {args.ranks} CPU ranks: per-step loss difference from {ref_name} stage 3")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "loss_diff.png"), dpi=110)


if __name__ == "__main__":
    main()
