# Turns the JSON lines of bench/gpu_visit.sh (and the shakespeare log) into the markdown tables
# the release notes carry: ours vs PyTorch side by side, with ratios.
#   python3 bench/summarize.py results.jsonl [shakespeare.log]
import json
import re
import statistics
import sys

GIB = 2**30


def load(path):
    rows = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


def shakespeare(log_path, rows):
    try:
        text = open(log_path).read()
    except OSError:
        return
    best = re.findall(r"best val loss ([0-9.]+) at step (\d+)", text)
    ms = [float(x) for x in re.findall(r"([0-9.]+) ms/step", text)]
    torch_rows = [r for r in rows if r.get("bench") == "torch_eager_shakespeare"]
    print("## nanoGPT shakespeare_char recipe, 1 GPU\n")
    print("| run | best val loss (step) | iter time ms (steady) |")
    print("|---|---|---|")
    if best:
        steady = statistics.median(ms[1:]) if len(ms) > 1 else (ms[0] if ms else float("nan"))
        print(f"| ZeroShard train_gpt, bf16 | {best[-1][0]} ({best[-1][1]}) | {steady:.2f} |")
    for r in torch_rows:
        print(f"| PyTorch eager, same model and batch (this run) | - | {r['step_ms']:.2f} |")
    print("| nanoGPT eager (REFERENCE.md, H200) | 1.4677 (1750) | 9.09 |")
    print("| nanoGPT torch.compile (REFERENCE.md, H200) | 1.4632 (1750) | 6.39 |\n")


def gpt2(rows):
    models = [m for m in ["124M", "350M", "774M", "1.5B"] if any(r.get("model") == m for r in rows)]
    if not models:
        return
    world = next((r["world"] for r in rows if r.get("model") in models and "world" in r), "?")
    print(f"## GPT-2, seq 1024, micro 8, bf16, {world} GPUs: tokens/s per GPU (MFU, peak GiB)\n")
    print("| model | PyTorch DDP | ZeRO-0 | ZeRO-1 | ZeRO-2 | ZeRO-0 / DDP | ZeRO-2 / ZeRO-0 |")
    print("|---|---|---|---|---|---|---|")
    mem_lines = []
    for m in models:
        # PyTorch DDP as run: eager, or compiled (GPT2_TORCH_FLAGS=--compile)
        ddp = next((r for r in rows if r.get("bench") in ("torch_ddp", "torch_ddp+compile") and r["model"] == m), None)
        ours = {r["stage"]: r for r in rows if r.get("bench") == "zeroshard" and r["model"] == m}
        cell = lambda r: f"{r['tok_s_per_gpu']:,.0f} ({100 * r['mfu']:.1f}%, {r['peak_gib']:.1f})" if r else "-"
        ratio = lambda a, b: f"{a['tok_s_per_gpu'] / b['tok_s_per_gpu']:.3f}" if a and b else "-"
        label = m + (" (DDP + torch.compile)" if ddp and ddp["bench"].endswith("+compile") else "")
        print(f"| {label} | {cell(ddp)} | {cell(ours.get(0))} | {cell(ours.get(1))} | {cell(ours.get(2))} | "
              f"{ratio(ours.get(0), ddp)} | {ratio(ours.get(2), ours.get(0))} |")
        # One rank saves nothing between stages (the table's drops are 0): no row.
        if all(s in ours for s in (0, 1, 2)) and ours[0]["world"] > 1:
            psi, n = ours[0]["params"], ours[0]["world"]
            pred01, pred12 = 12 * psi * (1 - 1 / n) / GIB, 2 * psi * (1 - 1 / n) / GIB
            got01 = ours[0]["peak_gib"] - ours[1]["peak_gib"]
            got12 = ours[1]["peak_gib"] - ours[2]["peak_gib"]
            mem_lines.append(f"| {m} | {got01:.2f} | {pred01:.2f} | {got01 / pred01:.2f} | {got12:.2f} | {pred12:.2f} | "
                             f"{got12 / pred12:.2f} |")
    memory_model([r for r in rows if r.get("bench") == "zeroshard" and "est_state_gib" in r])
    if mem_lines:
        print("\n## Peak-memory drop between stages (GiB): measured vs the stage table (12Ψ(1-1/N), 2Ψ(1-1/N))\n")
        print("| model | 0→1 measured | 0→1 predicted | ratio | 1→2 measured | 1→2 predicted | ratio |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(mem_lines))


def memory_model(rows):
    if not rows:
        return
    print("\n## Memory per GPU (GiB): measured vs the engine's accounting (memory_estimate.hpp)\n")
    print("| model | stage | offload | model states measured (after backward) | accounted | ratio | + gathered units + buffers "
          "(accounted) | peak fwd+bwd | peak step |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['stage']} | {r.get('offload', 'none/none')} | {r['state_gib']:.2f} | "
              f"{r['est_state_gib']:.2f} | {r['state_gib'] / r['est_state_gib']:.3f} | "
              f"{r['est_gathered_gib']:.2f} + {r['est_buffers_gib']:.2f} | {r['fwd_bwd_peak_gib']:.2f} | "
              f"{r['step_peak_gib']:.2f} |")


def offload(rows):
    ours = [r for r in rows if r.get("bench") == "zeroshard" and r.get("label") == "offload"]
    fsdp = next((r for r in rows if r.get("bench") == "torch_fsdp2_offload"), None)
    if not ours and not fsdp:
        return
    base = next((r for r in ours if r["stage"] == 2 and r.get("offload") == "none/none"), None)
    print("\n## Offload, GPT-2 1.5B, seq 1024, micro 8, bf16: tokens/s per GPU, GPU peak, host peak per rank\n")
    print("| run | tok/s/GPU | GPU peak GiB | host peak GiB | / FSDP2 offload | / our stage 2 |")
    print("|---|---|---|---|---|---|")
    if fsdp:
        print(f"| PyTorch FSDP2 + CPUOffloadPolicy | {fsdp['tok_s_per_gpu']:,.0f} | {fsdp['peak_gib']:.1f} | "
              f"{fsdp.get('host_peak_gib', 0):.1f} | 1.00 | - |")
    for r in ours:
        vs_fsdp = f"{r['tok_s_per_gpu'] / fsdp['tok_s_per_gpu']:.2f}" if fsdp else "-"
        vs_base = f"{r['tok_s_per_gpu'] / base['tok_s_per_gpu']:.3f}" if base else "-"
        print(f"| ZeRO-{r['stage']} offload {r['offload']} | {r['tok_s_per_gpu']:,.0f} | {r['peak_gib']:.1f} | "
              f"{r['host_peak_gib']:.1f} | {vs_fsdp} | {vs_base} |")


def scale(rows):
    runs = [r for r in rows if r.get("bench") == "zeroshard" and str(r.get("label", "")).startswith("scale")]
    if not runs:
        return
    print("\n## Scale: large GPTs, 10 steps (micro 1, seq 1024, activation checkpointing)\n")
    print("| run | params | GPUs | offload | first → last loss | step s | GPU peak GiB | model states GiB "
          "(accounted) | set-up peak above model states GiB (whole model in 16 bits) | host peak GiB | build + engine s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['label']} stage {r['stage']} | {r['params'] / 1e9:.2f}B | {r['world']} | {r['offload']} | "
              f"{r['first_loss']:.3f} → {r['final_loss']:.3f} | {r['step_ms'] / 1e3:.2f} | {r['peak_gib']:.1f} | "
              f"{r['state_gib']:.1f} ({r['est_state_gib']:.1f}) | {r['setup_peak_gib'] - r['state_gib']:.2f} "
              f"({r['full_model_16bit_gib']:.1f}) | {r['host_peak_gib']:.1f} | {r['build_s']:.0f} + {r['engine_s']:.0f} |")


def stage3(rows):
    if not any(r.get("bench") == "torch_fsdp2" for r in rows):
        return
    print("\n## ZeRO-3 vs PyTorch FSDP2 (fp32 reduce): tokens/s per GPU (MFU, peak GiB), each against the FSDP2 run before it\n")
    print("| model | FSDP2 | ZeRO-3 reduce dtype, reuse distance | ZeRO-3 | ZeRO-3 / FSDP2 | peak ZeRO-3 / FSDP2 |")
    print("|---|---|---|---|---|---|")
    cell = lambda r: f"{r['tok_s_per_gpu']:,.0f} ({100 * r['mfu']:.1f}%, {r['peak_gib']:.1f})"
    last = {}
    for r in rows:
        if r.get("bench") == "torch_fsdp2":
            last[r["model"]] = r
        elif r.get("bench") == "zeroshard" and r.get("stage") == 3 and r["model"] in last:
            f = last[r["model"]]
            reuse = r.get("reuse_distance", 0)
            run = f"{r.get('comm_dtype', r.get('dtype', '-'))}, {f'{reuse:.0e}' if reuse else 0}"
            print(f"| {r['model']} | {cell(f)} | {run} | {cell(r)} | {r['tok_s_per_gpu'] / f['tok_s_per_gpu']:.3f} | "
                  f"{r['peak_gib'] / f['peak_gib']:.3f} |")


def is_ratio_run(r):
    return str(r.get("label", "")).startswith("ratio:")


def offload_ratio(rows):
    """The partial-offload steps (offload_ratio, llama_offload_ratio): ours and DeepSpeed's of one config
    share a label; each family's no-offload run of ours is the baseline."""
    runs = [r for r in rows if is_ratio_run(r)]
    if not runs:
        return
    print("\n## A partial offload (offload_optimizer.ratio): ours beside DeepSpeed's same config\n")
    print("| model | run | ZeroShard tok/s/GPU (peak, host GiB) | DeepSpeed | ours / DeepSpeed | ours / ours without offload |")
    print("|---|---|---|---|---|---|")
    ours_bench = ("zeroshard", "zeroshard_llama")
    host = lambda r: r.get("host_peak_gib", r.get("host_rss_gib", 0)) or 0
    cell = lambda r: f"{r['tok_s_per_gpu']:,.0f} ({r['peak_gib']:.1f}, {host(r):.1f})" if r else "-"
    for r in runs:
        if r.get("bench") not in ours_bench:
            continue
        ds = next((d for d in runs if d.get("bench") not in ours_bench and d.get("label") == r["label"]), None)
        base = next((b for b in runs if b.get("bench") == r["bench"] and "no offload" in b["label"]), None)
        vs_ds = f"{r['tok_s_per_gpu'] / ds['tok_s_per_gpu']:.2f}" if ds else "-"
        vs_base = f"{r['tok_s_per_gpu'] / base['tok_s_per_gpu']:.2f}" if base else "-"
        print(f"| {r.get('model', '')} | {r['label'][len('ratio:'):].strip()} | {cell(r)} | {cell(ds)} | {vs_ds} | {vs_base} |")


def deepspeed_gpt(rows):
    """DeepSpeed's GPT-2 runs (gpt_ds) beside ours at the same model, stage and offload."""
    runs = [r for r in rows if r.get("bench") == "deepspeed" and "model" in r and not is_ratio_run(r)]
    if not runs:
        return
    print("\n## GPT-2 beside DeepSpeed: tokens/s per GPU (peak GiB), launch to the end of the first step\n")
    print("| model | stage | offload | DeepSpeed | ours | ours / DeepSpeed | first step: DeepSpeed, ours |")
    print("|---|---|---|---|---|---|---|")
    for d in runs:
        offload = d.get("offload", "none/none")
        ours = next((r for r in rows if r.get("bench") == "zeroshard" and r.get("model") == d["model"]
                     and r.get("stage") == d["stage"] and r.get("offload", "none/none").split(" ")[0] == offload), None)
        cell = lambda r: f"{r['tok_s_per_gpu']:,.0f} ({r['peak_gib']:.1f})" if r else "-"
        ratio = f"{ours['tok_s_per_gpu'] / d['tok_s_per_gpu']:.2f}" if ours else "-"
        first = f"{d['time_to_first_step_s']:.1f} s, " + (f"{ours['time_to_first_step_s']:.1f} s" if ours else "-")
        print(f"| {d['model']} | {d['stage']} | {offload} | {cell(d)} | {cell(ours)} | {ratio} | {first} |")


def cnn(rows):
    """Images/s per GPU: ours at each stage against DDP eager and DeepSpeed at the same stage."""
    models = list(dict.fromkeys(r["model"] for r in rows if r.get("bench") in ("zeroshard_cnn", "torch_ddp_cnn")))
    if not models:
        return
    print("\n## Image classifiers: images/s per GPU (224x224, bf16, channels-last, synthetic, peak GiB)\n")
    print("| model | DDP eager | stage | DeepSpeed | ours | ours / DDP | ours / DeepSpeed |")
    print("|---|---|---|---|---|---|---|")
    cell = lambda r: f"{r['img_s_per_gpu']:,.0f} ({r['peak_gib']:.1f})" if r else "-"
    ratio = lambda a, b: f"{a['img_s_per_gpu'] / b['img_s_per_gpu']:.2f}" if a and b else "-"
    for m in models:
        ddp = next((r for r in rows if r.get("bench") == "torch_ddp_cnn" and r["model"] == m), None)
        for stage in (1, 2, 3):
            ours = next((r for r in rows if r.get("bench") == "zeroshard_cnn" and r["model"] == m and r["stage"] == stage), None)
            ds = next((r for r in rows if r.get("bench") == "deepspeed_cnn" and r["model"] == m and r["stage"] == stage), None)
            print(f"| {m} | {cell(ddp)} | {stage} | {cell(ds)} | {cell(ours)} | {ratio(ours, ddp)} | {ratio(ours, ds)} |")


def llama(rows):
    runs = [r for r in rows if r.get("bench") in ("zeroshard_llama", "torch_fsdp2_llama", "deepspeed_llama")
            and not is_ratio_run(r)]
    if not runs:
        return
    print("\n## Llama: tokens/s per GPU, MFU, peak GiB\n")
    print("| run | offload | tok/s/GPU | MFU | peak GiB | ours / it |")
    print("|---|---|---|---|---|---|")
    for r in runs:
        name = f"{r['bench']} {r.get('label', '')}".strip()
        # Ours against the others at the same offload (the first of ours run that way).
        ours = next((o for o in runs if o["bench"] == "zeroshard_llama" and o.get("offload") == r.get("offload")), None)
        vs = f"{ours['tok_s_per_gpu'] / r['tok_s_per_gpu']:.3f}" if ours and r["bench"] != "zeroshard_llama" else ""
        print(f"| {name} | {r.get('offload', '')} | {r['tok_s_per_gpu']:,.0f} | {100 * r['mfu']:.1f}% | "
              f"{r['peak_gib']:.1f} | {vs} |")


def main():
    rows = load(sys.argv[1])
    if len(sys.argv) > 2:
        shakespeare(sys.argv[2], rows)
    plain = [r for r in rows if not r.get("label")]
    gpt2([r for r in plain if r.get("stage", 0) != 3])
    stage3(plain)
    deepspeed_gpt(rows)
    memory_model([r for r in plain if r.get("bench") == "zeroshard" and r.get("stage") == 3 and "est_state_gib" in r])
    offload(rows)
    offload_ratio(rows)
    scale(rows)
    cnn(rows)
    llama(rows)


if __name__ == "__main__":
    main()
