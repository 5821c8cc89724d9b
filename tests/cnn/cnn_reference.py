# torchvision's side of the CNN model tests (tests/test_cnn_models.cpp).
#
#   python tests/cnn/cnn_reference.py make OUT_DIR [--models resnet18,...] [--num-classes 10]
#                                                 [--image-size 64] [--device cpu|cuda] [--dtype fp32|bf16]
#       For each model, torchvision's own network with num_classes outputs, its BatchNorm running
#       statistics set by three training-mode passes over random images and its BatchNorm weights and
#       biases moved away from 1 and 0 (so loading them is checked too):
#         OUT_DIR/<model>.safetensors      its state_dict (fp32, torchvision's names, buffers included;
#                                          the metadata's "state_dict_order" lists the names in order)
#         OUT_DIR/<model>.ref.safetensors  "input" [2, 3, S, S]; "logits_eval" (eval mode);
#                                          "logits_train" (one training-mode forward with dropout and
#                                          stochastic depth off) and "after_train.<name>" for every
#                                          BatchNorm buffer after that forward
#       --device/--dtype run the two forwards there (the state_dict is always the fp32 one); the logits
#       are saved as fp32. OUT_DIR/complete marks a finished run.
import argparse
import os
import sys

import torch
import torchvision
from safetensors.torch import save_file

MODELS = {
    "resnet18": torchvision.models.resnet18,
    "resnet50": torchvision.models.resnet50,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "efficientnet_b0": torchvision.models.efficientnet_b0,
    "vgg16_bn": torchvision.models.vgg16_bn,
}


def calibrate_and_randomize(model, image_size, seed):
    """Running statistics from real passes (so activations keep a sane scale through the depth), then
    BatchNorm weights and biases and convolution biases away from their initial 1 and 0."""
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, image_size, image_size, generator=g))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))


def bn_buffers(model):
    return {name: b for name, b in model.named_buffers()
            if name.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def make_one(name, out_dir, num_classes, image_size, device, dtype, seed):
    torch.manual_seed(seed)
    model = MODELS[name](num_classes=num_classes)
    calibrate_and_randomize(model, image_size, seed + 1)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    # The file keeps its tensors sorted; the metadata keeps state_dict's order (module registration order).
    save_file(state, os.path.join(out_dir, f"{name}.safetensors"),
              metadata={"format": "pt", "state_dict_order": ",".join(state)})

    g = torch.Generator().manual_seed(seed + 2)
    images = torch.randn(2, 3, image_size, image_size, generator=g)
    model = model.to(device=device, dtype=dtype)
    x = images.to(device=device, dtype=dtype)
    ref = {"input": images}
    with torch.no_grad():
        model.eval()
        ref["logits_eval"] = model(x).float().cpu()
        # Training mode with the random parts off: pins BatchNorm's batch statistics and running updates.
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout) or isinstance(m, torchvision.ops.StochasticDepth):
                m.p = 0.0
        model.train()
        ref["logits_train"] = model(x).float().cpu()
    for buf, t in bn_buffers(model).items():
        ref["after_train." + buf] = t.detach().cpu().contiguous().clone() if t.dtype == torch.long else t.detach().float().cpu().contiguous().clone()
    save_file(ref, os.path.join(out_dir, f"{name}.ref.safetensors"), metadata={"format": "pt"})


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("command", choices=["make"])
    p.add_argument("out_dir")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    a = p.parse_args()
    names = [m for m in a.models.split(",") if m]
    for m in names:
        if m not in MODELS:
            sys.exit(f"cnn_reference.py: unknown model {m}; known: {', '.join(MODELS)}")
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("cnn_reference.py: --device cuda but torch sees no GPU")
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    # One thread: with several, the tiny convolutions here spin against each other on a busy 2-core
    # machine (seconds per forward instead of milliseconds).
    torch.set_num_threads(1)
    os.makedirs(a.out_dir, exist_ok=True)
    for i, name in enumerate(names):
        make_one(name, a.out_dir, a.num_classes, a.image_size, a.device, dtype, seed=1000 + 10 * i)
    with open(os.path.join(a.out_dir, "complete"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
