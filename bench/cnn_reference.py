# What users would run instead of ZeroShard's image classifiers, on the same GPUs: torchvision's model
# under PyTorch DDP (eager, bf16 autocast, channels-last) or under DeepSpeed ZeRO stage 1/2/3 (bf16),
# SGD with momentum, a fixed batch of random images. Prints one JSON line on rank 0 with bench_cnn's
# field names.
#
#   torchrun --nproc_per_node 2 bench/cnn_reference.py --model resnet50 --strategy ddp
#   torchrun --nproc_per_node 2 bench/cnn_reference.py --model resnet50 --strategy deepspeed --stage 2   (PYTHONPATH with deepspeed)
#
# img_s_per_gpu = micro / median step time.
import argparse
import json
import os
import sys
import time

for _k, _v in (("NCCL_NVLS_ENABLE", "0"), ("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1"), ("NVSHMEM_DISABLE_NVLS", "1")):
    os.environ.setdefault(_k, _v)


def main():
    ap = argparse.ArgumentParser(description="torchvision classifiers under DDP or DeepSpeed")
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--strategy", default="ddp", choices=["ddp", "deepspeed"])
    ap.add_argument("--stage", type=int, default=1, help="deepspeed: ZeRO stage")
    ap.add_argument("--micro", type=int, default=128)
    ap.add_argument("--image_size", type=int, default=224)
    ap.add_argument("--num_classes", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--label", default="")
    args = ap.parse_args()

    import torch
    import torch.distributed as dist
    import torchvision

    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    torch.cuda.set_device(local_rank)
    dev = torch.device("cuda", local_rank)
    dist.init_process_group("nccl", device_id=dev)
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.model)(num_classes=args.num_classes)
    # DDP keeps channels-last weights; DeepSpeed cannot (it broadcasts each weight viewed as bytes, which
    # needs a unit last stride) and flattens them, so its weights stay contiguous, as ZeroShard's do, and
    # only the images are channels-last.
    model = model.to(dev, memory_format=torch.channels_last if args.strategy == "ddp" else torch.contiguous_format)
    n_params = sum(p.numel() for p in model.parameters())
    sgd = dict(lr=0.01, momentum=0.9, weight_decay=1e-4)
    engine = None
    if args.strategy == "ddp":
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank])
        optimizer = torch.optim.SGD(model.parameters(), **sgd, foreach=True)
    else:
        import deepspeed
        deepspeed.init_distributed()
        ds_config = {"train_micro_batch_size_per_gpu": args.micro, "gradient_accumulation_steps": 1,
                     "train_batch_size": args.micro * world, "bf16": {"enabled": True},
                     "zero_optimization": {"stage": args.stage, "overlap_comm": True, "contiguous_gradients": True},
                     "steps_per_print": 10**9, "zero_allow_untested_optimizer": True}
        # DeepSpeed's config names no SGD: a torch optimizer goes in beside it, as its docs show (ZeRO
        # asks for zero_allow_untested_optimizer to take one outside its list).
        optimizer = torch.optim.SGD(model.parameters(), **sgd)
        engine, optimizer, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, config=ds_config)

    g = torch.Generator(device="cpu").manual_seed(1000 + rank)
    dtype = torch.bfloat16 if engine is not None else torch.float32  # DDP: autocast makes the bf16
    x = torch.randn(args.micro, 3, args.image_size, args.image_size, generator=g).to(dev, dtype)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, args.num_classes, (args.micro,), generator=g).to(dev)
    torch.cuda.reset_peak_memory_stats(dev)

    def step():
        if engine is not None:
            loss = torch.nn.functional.cross_entropy(engine(x).float(), y)
            engine.backward(loss)
            engine.step()
            return loss
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    times, first_loss = [], None
    for i in range(args.warmup + args.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = step()
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        if i == 0:
            first_loss = loss.item()
        if i >= args.warmup:
            times.append(dt)
        if rank == 0 and (i < 2 or i + 1 == args.warmup + args.steps):
            print(f"cnn_reference: step {i + 1} loss {loss.item():.4f} {dt * 1e3:.1f} ms", file=sys.stderr, flush=True)
    median = sorted(times)[len(times) // 2]
    peak = torch.tensor([torch.cuda.max_memory_allocated(dev)], dtype=torch.float64, device=dev)
    dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    if rank == 0:
        bench = "torch_ddp_cnn" if engine is None else "deepspeed_cnn"
        print(json.dumps({"bench": bench, "label": args.label, "model": args.model, "params": n_params,
                          "stage": args.stage if engine is not None else None, "dtype": "bf16", "world": world,
                          "micro": args.micro, "image_size": args.image_size, "channels_last": True,
                          "step_ms": median * 1e3, "img_s_per_gpu": args.micro / median,
                          "peak_gib": peak[0].item() / 2**30, "first_loss": first_loss, "final_loss": loss.item(),
                          "torch": torch.__version__}), flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
