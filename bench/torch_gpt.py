# PyTorch side of the side-by-side GPT benchmark: the same GPT-2 model as ZeroShard's
# (pre-norm blocks, biases, exact GELU, tied embeddings, causal SDPA, fp32 cross-entropy),
# trained the way a PyTorch user would: DDP with bf16 autocast and fused AdamW, or FSDP2
# (fully_shard per block, bf16 parameters, fp32 reduction). Prints one JSON line on rank 0 with
# the same fields as bench_gpt.
#
#   torchrun --nproc_per_node 2 bench/torch_gpt.py --model 350M --strategy ddp
import argparse
import resource
import json
import math
import os
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {"124M": (12, 12, 768), "350M": (24, 16, 1024), "774M": (36, 20, 1280), "1.5B": (48, 25, 1600)}
VOCAB = 50304


class Block(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True).transpose(1, 2).reshape(b, t, c)
        x = x + F.dropout(self.c_proj(y), p)
        return x + F.dropout(self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)))), p)


class GPT(nn.Module):
    def __init__(self, layers, heads, d, seq, vocab, dropout=0.0):
        super().__init__()
        self.vocab = vocab
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(seq, d)
        self.h = nn.ModuleList(Block(d, heads, dropout) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        # nanoGPT's initialisation, as ZeroShard's GPT uses.
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight") else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.h:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)
        return F.cross_entropy(logits.float().view(-1, self.vocab), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="124M", choices=list(PRESETS) + ["custom"])
    ap.add_argument("--layers", type=int, default=6, help="custom model: layers")
    ap.add_argument("--heads", type=int, default=6, help="custom model: heads")
    ap.add_argument("--width", type=int, default=384, help="custom model: width")
    ap.add_argument("--vocab", type=int, default=VOCAB, help="vocabulary size")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--strategy", default="ddp", choices=["ddp", "fsdp2", "fsdp2_offload", "single"])
    ap.add_argument("--micro", type=int, default=8)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (default mode)")
    ap.add_argument("--profile", default="", help="after the timed steps, trace 2 more into this Chrome trace (rank 0)")
    args = ap.parse_args()

    # CPU offload keeps gradients on the host, so the gradient-norm all-reduce needs a CPU backend.
    dist.init_process_group("cpu:gloo,cuda:nccl" if args.strategy == "fsdp2_offload" else "nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.cuda.set_device(dev)
    layers, heads, d = PRESETS[args.model] if args.model != "custom" else (args.layers, args.heads, args.width)
    torch.manual_seed(0)
    model = GPT(layers, heads, d, args.seq, args.vocab, args.dropout)
    if args.strategy != "fsdp2_offload":  # CPU offload wants the parameters on the host
        model = model.to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    if args.strategy == "single":
        step_model = model
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1, fused=True)
    elif args.strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel as DDP
        step_model = DDP(model, device_ids=[dev.index])
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1, fused=True)
    else:
        from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, fully_shard
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        kw = {"offload_policy": CPUOffloadPolicy()} if args.strategy == "fsdp2_offload" else {}
        for block in model.h:
            fully_shard(block, mp_policy=mp, **kw)
        fully_shard(model, mp_policy=mp, **kw)
        step_model = model
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1, foreach=True)

    if args.compile:
        step_model = torch.compile(step_model)
        args.warmup = max(args.warmup, 5)  # compilation and its recompiles stay out of the timed steps
    g = torch.Generator(device="cpu").manual_seed(1000 + rank)
    x = torch.randint(0, args.vocab, (args.micro, args.seq), generator=g).to(dev)
    y = torch.randint(0, args.vocab, (args.micro, args.seq), generator=g).to(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    def train_step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = step_model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    times = []
    for i in range(args.warmup + args.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = train_step()
        torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    if args.profile:
        acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        with torch.profiler.profile(activities=acts) as prof:
            for _ in range(2):
                train_step()
            torch.cuda.synchronize()
        if rank == 0:
            prof.export_chrome_trace(args.profile)
    times.sort()
    median = times[len(times) // 2]
    tok_s = args.micro * args.seq / median
    flops_per_token = 6 * n_params + 12 * layers * d * args.seq
    host_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # GiB (ru_maxrss is KiB)
    peak = torch.tensor([torch.cuda.max_memory_allocated(dev)], dtype=torch.float64, device=dev)
    dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    if rank == 0:
        print(json.dumps({"bench": "torch_" + args.strategy + ("+compile" if args.compile else ""), "model": args.model, "params": n_params, "world": world,
                          "micro": args.micro, "step_ms": median * 1e3, "tok_s_per_gpu": tok_s,
                          "mfu": tok_s * flops_per_token / 989e12, "peak_gib": peak.item() / 2**30,
                          "host_peak_gib": host_peak,
                          "final_loss": loss.item()}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
