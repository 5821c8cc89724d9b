#!/usr/bin/env python3
"""Plots one or several training runs' logs as PNG: loss, learning rate, tok/s, MFU, memory and the
step-time breakdown over steps, runs side by side (one line per run in each panel).

A run is either
  - a JSON-lines log (train_gpt --log_jsonl, EngineOptions::metrics_jsonl): x axis = step, or
  - a csv_monitor folder (<output_path>/<job_name> with Train_Samples_*.csv): x axis = samples.
Panels whose values no run has are left out.

    python scripts/plot_runs.py run_a/metrics.jsonl run_b/metrics.jsonl -o runs.png [--labels a,b] [--smooth 10]

matplotlib comes from the git-ignored environment scripts/monitor_venv.sh makes:
    $(scripts/monitor_venv.sh | tail -n 1) scripts/plot_runs.py ...
"""
import argparse
import csv
import glob
import json
import math
import os
import sys

# (panel title, y label, [(key, legend suffix)], log scale)
PANELS = [
    ("training loss", "loss", [("loss", "")], False),
    ("learning rate", "lr", [("lr", "")], False),
    ("throughput", "tokens/s per device", [("tokens_per_second_per_device", "")], False),
    ("MFU", "% of peak", [("mfu", "")], False),
    ("memory (device; on CPUs the process RSS)", "GiB", [("memory_peak_gib_backward", " peak (backward)"),
                              ("memory_allocated_gib_step", " allocated (after step)"),
                              ("host_rss_gib", " host RSS")], False),
    ("step time", "ms", [("elapsed_time_ms_forward", " forward"), ("elapsed_time_ms_backward", " backward"),
                         ("elapsed_time_ms_step", " step"), ("elapsed_time_ms_communication", " communication")], False),
]


def read_jsonl(path):
    """{key: [(x, y), ...]} with x = step."""
    series = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not a JSON line ({e})")
            x = record.get("step")
            for key, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value is not None:
                    series.setdefault(key, []).append((x, float(value)))
    return series, "step"


def read_csv_folder(folder):
    """{key: [(x, y), ...]} from DeepSpeed's csv_monitor files, x = samples."""
    series = {}
    files = sorted(glob.glob(os.path.join(folder, "*.csv")))
    if not files:
        sys.exit(f"{folder}: no .csv files (expected a csv_monitor folder, <output_path>/<job_name>)")
    for path in files:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        if not rows or len(rows[0]) != 2 or rows[0][0] != "step":
            sys.exit(f"{path}: not a csv_monitor file (its header should be 'step,<name>')")
        key = rows[0][1]
        key = "loss" if key == "train_loss" else key
        for row in rows[1:]:
            if len(row) == 2 and row[0] != "step":
                series.setdefault(key, []).append((int(row[0]), float(row[1])))
    return series, "samples"


def smoothed(points, n):
    """The mean of each n consecutive points (x: the last of them); the points themselves for n <= 1."""
    if n <= 1:
        return points
    out = []
    for i in range(0, len(points) - n + 1, n):
        window = points[i:i + n]
        out.append((window[-1][0], sum(y for _, y in window) / n))
    return out or points


def read_run(path):
    if os.path.isdir(path):
        return read_csv_folder(path)
    if not os.path.exists(path):
        sys.exit(f"{path}: no such file or folder")
    return read_jsonl(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="JSON-lines logs or csv_monitor folders")
    parser.add_argument("-o", "--output", default="runs.png", help="the PNG to write (default runs.png)")
    parser.add_argument("--labels", help="comma-separated run names (default: the paths)")
    parser.add_argument("--title", default="", help="a title over the panels")
    parser.add_argument("--smooth", type=int, default=1,
                        help="plot the mean of each N consecutive points (default 1: every point as logged)")
    args = parser.parse_args()
    labels = args.labels.split(",") if args.labels else args.runs
    if len(labels) != len(args.runs):
        sys.exit(f"--labels names {len(labels)} runs but {len(args.runs)} were given")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [(label,) + read_run(path) for label, path in zip(labels, args.runs)]
    panels = [p for p in PANELS if any(key in series for _, series, _ in runs for key, _ in p[2])]
    if not panels:
        sys.exit("nothing to plot: the runs hold none of " + ", ".join(k for p in PANELS for k, _ in p[2]))
    cols = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 3.6 * rows), squeeze=False)
    for ax, (title, ylabel, keys, log) in zip(axes.flat, panels):
        for label, series, xname in runs:
            for key, suffix in keys:
                if key not in series:
                    continue
                xs, ys = zip(*smoothed(series[key], args.smooth))
                if key == "mfu":
                    ys = [100 * y for y in ys]
                ax.plot(xs, ys, label=f"{label}{suffix}", linewidth=1.2)
            ax.set_xlabel(xname)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output} ({len(panels)} panels, {len(runs)} run(s))")


if __name__ == "__main__":
    main()
