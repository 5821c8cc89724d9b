# What users would run instead of ZeroShard's Llama, on the same shape and GPUs: Hugging Face
# transformers' LlamaForCausalLM trained with PyTorch FSDP2 (fully_shard per decoder layer, bf16
# parameters, fp32 reduction) or with DeepSpeed ZeRO-3 (zero.Init, optional CPU optimizer and
# parameter offload), with activation checkpointing (transformers' own, non-reentrant), AdamW, clip 1.0,
# random tokens. Prints one JSON line on rank 0 with bench_llama's field names.
#
#   torchrun --nproc_per_node 2 bench/llama_reference.py --strategy fsdp2
#   torchrun --nproc_per_node 2 bench/llama_reference.py --strategy deepspeed          (PYTHONPATH with deepspeed)
#   torchrun --nproc_per_node 1 bench/llama_reference.py --strategy deepspeed --offload
#
# tok_s_per_gpu = micro*seq / median step time; mfu = tok_s_per_gpu * (6N + 12*L*d*T) / 989e12.
import time

T_SCRIPT = time.time()

import argparse
import json
import os
import resource
import sys

for _k, _v in (("NCCL_NVLS_ENABLE", "0"), ("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1"), ("NVSHMEM_DISABLE_NVLS", "1")):
    os.environ.setdefault(_k, _v)

SHAPES = {  # layers, width, heads, kv heads, mlp, vocab
    "llama2-7b": (32, 4096, 32, 32, 11008, 32000),
    "tiny": (2, 256, 4, 2, 688, 1000),
}


def process_start_time():
    try:
        import psutil
        return psutil.Process().create_time()
    except Exception:
        return T_SCRIPT


def main():
    ap = argparse.ArgumentParser(description="transformers Llama under FSDP2 or DeepSpeed ZeRO-3")
    ap.add_argument("--strategy", default="fsdp2", choices=["fsdp2", "deepspeed"])
    ap.add_argument("--shape", default="llama2-7b", choices=list(SHAPES))
    ap.add_argument("--micro", type=int, default=4)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--offload", action="store_true", help="deepspeed: CPU optimizer and parameter offload")
    ap.add_argument("--super_offload", action="store_true", help="deepspeed --offload: offload_optimizer.super_offload")
    ap.add_argument("--offload_param", default="cpu", choices=["cpu", "none"],
                    help="deepspeed --offload: where the parameter shards live (none: optimizer offload only)")
    ap.add_argument("--offload_ratio", type=float, default=1.0,
                    help="deepspeed --offload: offload_optimizer.ratio (the share of the step on the CPU)")
    ap.add_argument("--clip", type=float, default=1.0, help="gradient_clipping (0: off)")
    ap.add_argument("--no_checkpointing", action="store_true")
    ap.add_argument("--label", default="")
    args = ap.parse_args()

    import torch
    import torch.distributed as dist
    from transformers import LlamaConfig, LlamaForCausalLM

    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    torch.cuda.set_device(local_rank)
    dev = torch.device("cuda", local_rank)
    dist.init_process_group("nccl", device_id=dev)
    rank, world = dist.get_rank(), dist.get_world_size()
    L, d, heads, kv, mlp, vocab = SHAPES[args.shape]
    cfg = LlamaConfig(hidden_size=d, intermediate_size=mlp, num_hidden_layers=L, num_attention_heads=heads,
                      num_key_value_heads=kv, vocab_size=vocab, max_position_embeddings=args.seq,
                      tie_word_embeddings=False, attn_implementation="sdpa")
    torch.manual_seed(0)
    ds_config = None
    if args.strategy == "fsdp2":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
        with torch.device("meta"):
            model = LlamaForCausalLM(cfg)
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        for layer in model.model.layers:
            fully_shard(layer, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
        model.to_empty(device=dev)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("norm.weight"):
                    p.fill_(1.0)
                else:
                    p.normal_(0.0, 0.02)
            rope = model.model.rotary_emb
            inv_freq, _ = rope.compute_default_rope_parameters(cfg)
            rope.inv_freq.copy_(inv_freq)
            rope.original_inv_freq.copy_(inv_freq)
        if not args.no_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1, fused=True)
        engine = None
    else:
        import deepspeed
        deepspeed.init_distributed()  # DeepSpeed's own communication layer over the process group above
        zero = {"stage": 3, "overlap_comm": True, "contiguous_gradients": True}
        if args.offload:
            zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True, "super_offload": args.super_offload}
            if args.offload_ratio != 1.0:
                zero["offload_optimizer"]["ratio"] = args.offload_ratio
            if args.offload_param == "cpu":
                zero["offload_param"] = {"device": "cpu", "pin_memory": True}
        ds_config = {"train_micro_batch_size_per_gpu": args.micro, "gradient_accumulation_steps": 1,
                     "train_batch_size": args.micro * world, "gradient_clipping": args.clip, "bf16": {"enabled": True},
                     "optimizer": {"type": "AdamW", "params": {"lr": 3e-4, "weight_decay": 0.1}},
                     "zero_optimization": zero, "steps_per_print": 10**9}
        with deepspeed.zero.Init(config_dict_or_path=ds_config):
            model = LlamaForCausalLM(cfg)
        if not args.no_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        engine, optimizer, _, _ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=ds_config)
    n_params = sum(getattr(p, "ds_numel", p.numel()) for p in model.parameters())
    if args.strategy == "fsdp2":
        n_params = sum(p.numel() for p in model.parameters())  # DTensor numel is the global one

    g = torch.Generator(device="cpu").manual_seed(1000 + rank)
    x = torch.randint(0, vocab, (args.micro, args.seq), generator=g).to(dev)
    torch.cuda.reset_peak_memory_stats(dev)

    def step():
        if engine is not None:
            loss = engine(input_ids=x, labels=x).loss
            engine.backward(loss)
            engine.step()
            return loss
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    times, first_loss, first_step_end = [], None, None
    for i in range(args.warmup + args.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = step()
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        if i == 0:
            first_step_end, first_loss = time.time(), loss.item()
        if i >= args.warmup:
            times.append(dt)
        if rank == 0:
            print(f"llama_reference: step {i + 1} loss {loss.item():.4f} {dt * 1e3:.0f} ms", file=sys.stderr, flush=True)
    median = sorted(times)[len(times) // 2]
    tok_s = args.micro * args.seq / median
    flops_per_token = 6 * n_params + 12 * L * d * args.seq
    peak = torch.tensor([torch.cuda.max_memory_allocated(dev),
                         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20], dtype=torch.float64, device=dev)
    dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    if rank == 0:
        bench = "torch_fsdp2_llama" if args.strategy == "fsdp2" else "deepspeed_llama"
        print(json.dumps({"bench": bench, "label": args.label, "model": args.shape, "params": n_params, "world": world,
                          "micro": args.micro, "seq": args.seq, "offload": "cpu/" + args.offload_param if args.offload else "none/none",
                          "super_offload": args.super_offload, "offload_ratio": args.offload_ratio, "clip": args.clip,
                          "activation_checkpointing": not args.no_checkpointing, "step_ms": median * 1e3,
                          "tok_s_per_gpu": tok_s, "mfu": tok_s * flops_per_token / 989e12,
                          "peak_gib": peak[0].item() / 2**30, "host_rss_gib": peak[1].item(),
                          "first_loss": first_loss, "final_loss": loss.item(),
                          "time_to_first_step_s": first_step_end - process_start_time(),
                          "torch": torch.__version__}), flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
