# DeepSpeed's ds_gpt.py with offload_optimizer.ratio set (ZeRO-Offload++ Twin-Flow), for one comparison.
# Usage (from the project root, .deps/deepspeed a copy of ../shared/bench/deepspeed): DS_RATIO=0.3 torchrun ... bench/results/v19_2026-12-02/ds_ratio.py <ds_gpt.py flags>
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".deps", "deepspeed"))
import ds_gpt
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
