# DeepSpeed's GPT-2 benchmark (ds_gpt.py of ../shared/bench/deepspeed, carried as .deps/deepspeed)
# with zero_optimization.offload_optimizer.ratio set from DS_RATIO: DeepSpeed's partial offload
# ("Twin-Flow"), which ds_gpt.py has no flag for. Everything else is ds_gpt.py's.
#   DS_RATIO=0.3 torchrun --nproc_per_node 1 bench/ds_ratio.py --torch_gpt bench/torch_gpt.py --model 1.5B \
#     --stage 3 --offload_optimizer cpu [--offload_param cpu]
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".deps", "deepspeed"))
import ds_gpt  # noqa: E402

_build = ds_gpt.build_config


def build_config(args, world=1):
    cfg = _build(args, world)
    off = cfg["zero_optimization"].get("offload_optimizer")
    if off is not None:
        off["ratio"] = float(os.environ["DS_RATIO"])
    return cfg


ds_gpt.build_config = build_config
if __name__ == "__main__":
    ds_gpt.main()
