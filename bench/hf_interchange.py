# Checks that a ZeroShard GPT checkpoint exported with `zs_ckpt export-hf` loads in Hugging Face
# transformers' GPT2LMHeadModel and computes the same logits as ZeroShard's own model.
#
# NOT part of CI: it needs torch, transformers and safetensors in a Python environment (the driver
# bench/hf_interchange.sh makes one with pip). Runs on CPU.
#
#   python bench/hf_interchange.py --ckpt_dir /tmp/run --bin_dir build/bin --work_dir /tmp/hfx \
#       --n_layer 2 --n_head 2 --n_embd 64 --block_size 32
#
# Steps: zs_ckpt consolidate and export-hf; ZeroShard's logits through build/bin/tests/gpt_logits
# on the consolidated weights; the export's tensors against the consolidated ones (names, Conv1D
# transposes, zero biases, tied head); GPT2LMHeadModel.from_pretrained on the export, in fp32 and
# in bf16, against ZeroShard's fp32 logits. Prints a JSON summary as its last line and exits 1
# when a check fails.
import argparse
import json
import os
import subprocess
import sys

import torch
from safetensors import safe_open
from transformers import GPT2LMHeadModel
from transformers.activations import ACT2FN

CONV1D_SUFFIXES = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"command failed with exit code {done.returncode}: {' '.join(cmd)}")
    return done.stdout


def peak_rss_mib(output):
    for line in output.splitlines():
        if line.startswith("peak RSS:"):
            return float(line.split()[2])
    return None


def read_safetensors(path):
    with safe_open(path, framework="pt") as f:
        return {name: f.get_tensor(name) for name in f.keys()}


def check_export_layout(consolidated, exported):
    """The exported tensors against the model's own: every difference is a named problem."""
    problems = []
    for name, ours in consolidated.items():
        if name not in exported:
            problems.append(f"export lacks {name}")
            continue
        want = ours.t() if name.endswith(CONV1D_SUFFIXES) else ours
        if exported[name].shape != want.shape or not torch.equal(exported[name].float(), want.float()):
            problems.append(f"{name}: exported {tuple(exported[name].shape)} differs from the model's (transposed for Conv1D)")
    wte = consolidated["transformer.wte.weight"]
    if "lm_head.weight" not in exported or not torch.equal(exported["lm_head.weight"].float(), wte.float()):
        problems.append("lm_head.weight is not the token embedding")
    for name, t in exported.items():
        if name in consolidated or name == "lm_head.weight":
            continue
        if not name.endswith(".bias"):
            problems.append(f"export has unexpected tensor {name}")
        elif torch.count_nonzero(t).item() != 0:
            problems.append(f"{name} is added for GPT-2 but is not zero")
    return problems


def gpt2_config(args, vocab_size):
    # Exact (erf) GELU, as ZeroShard's MLP uses: in transformers' ACT2FN that is "gelu"
    # ("gelu_new", GPT-2's own default, is the tanh approximation).
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": vocab_size,
        "n_positions": args.block_size,
        "n_embd": args.n_embd,
        "n_layer": args.n_layer,
        "n_head": args.n_head,
        "n_inner": None,  # 4 * n_embd, as ZeroShard's MLP
        "activation_function": "gelu",
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "layer_norm_epsilon": 1e-5,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True,
        "bos_token_id": None,
        "eos_token_id": None,
        "dtype": "float32",
    }


def compare(name, got, ref):
    diff = (got.float() - ref).abs()
    scale = ref.abs().max().item()
    return {
        "case": name,
        "max_abs_diff": diff.max().item(),
        "max_rel_diff": (diff / ref.abs().clamp_min(1e-3)).max().item(),  # elementwise, |ref| floored at 1e-3
        "max_abs_diff_over_scale": diff.max().item() / scale,  # relative to the largest |logit|
        "logit_scale": scale,
        "argmax_agree": (got.float().argmax(-1) == ref.argmax(-1)).float().mean().item(),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ckpt_dir", required=True, help="ZeroShard checkpoint directory (holds `latest`)")
    p.add_argument("--bin_dir", default="build/bin", help="folder of zs_ckpt and tests/gpt_logits")
    p.add_argument("--work_dir", required=True, help="where the converted files go")
    for dim in ("n_layer", "n_head", "n_embd", "block_size"):
        p.add_argument("--" + dim, type=int, required=True)
    p.add_argument("--vocab_size", type=int, default=0, help="0: read from the checkpoint")
    p.add_argument("--seq_len", type=int, default=0, help="tokens to run (0: block_size)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random token ids")
    # Rounding noise measured here is ~1e-6 (124M shape); a tanh-instead-of-erf GELU moves logits by
    # 3e-5 or more, so 1e-5 tells the two apart where 1e-4 would not.
    p.add_argument("--fp32_tol", type=float, default=1e-5, help="max abs logit difference in fp32")
    p.add_argument("--bf16_tol", type=float, default=5e-2, help="max abs difference in bf16 over the largest |logit|")
    args = p.parse_args()

    os.makedirs(args.work_dir, exist_ok=True)
    hf_dir = os.path.join(args.work_dir, "hf")
    os.makedirs(hf_dir, exist_ok=True)
    zs_ckpt = os.path.join(args.bin_dir, "zs_ckpt")
    consolidated_path = os.path.join(args.work_dir, "consolidated.safetensors")
    export_path = os.path.join(hf_dir, "model.safetensors")
    out = run([zs_ckpt, "consolidate", args.ckpt_dir, consolidated_path])
    summary = {"consolidate_peak_rss_mib": peak_rss_mib(out)}
    out = run([zs_ckpt, "export-hf", args.ckpt_dir, export_path])
    summary["export_peak_rss_mib"] = peak_rss_mib(out)

    consolidated = read_safetensors(consolidated_path)
    wte = consolidated["transformer.wte.weight"]
    vocab_size = args.vocab_size or wte.shape[0]
    if wte.shape != (vocab_size, args.n_embd):
        raise SystemExit(f"checkpoint's wte is {tuple(wte.shape)}, expected ({vocab_size}, {args.n_embd})")
    bias = "transformer.ln_f.bias" in consolidated
    summary.update(n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd, block_size=args.block_size,
                   vocab_size=vocab_size, bias=bias,
                   parameters=sum(t.numel() for t in consolidated.values()))

    exported = read_safetensors(export_path)
    problems = check_export_layout(consolidated, exported)
    del exported
    summary["layout_problems"] = problems
    for problem in problems:
        print("LAYOUT: " + problem)

    # The same random tokens through both models.
    seq_len = args.seq_len or args.block_size
    gen = torch.Generator().manual_seed(args.seed)
    tokens = torch.randint(0, vocab_size, (seq_len,), generator=gen).tolist()
    logits_json = os.path.join(args.work_dir, "zs_logits.json")
    run([os.path.join(args.bin_dir, "tests", "gpt_logits"), "--n_layer", str(args.n_layer), "--n_head",
         str(args.n_head), "--n_embd", str(args.n_embd), "--block_size", str(args.block_size), "--vocab_size",
         str(vocab_size), "--bias", "true" if bias else "false", "--weights", consolidated_path,
         "--tokens", ",".join(map(str, tokens)), "--out", logits_json])
    with open(logits_json) as f:
        ours = torch.tensor(json.load(f)["logits"], dtype=torch.float32)
    del consolidated

    assert ACT2FN["gelu"](torch.tensor([1.0])).item() == torch.nn.functional.gelu(torch.tensor([1.0])).item(), \
        "transformers' 'gelu' is not the exact GELU"
    with open(os.path.join(hf_dir, "config.json"), "w") as f:
        json.dump(gpt2_config(args, vocab_size), f, indent=2)
    model, info = GPT2LMHeadModel.from_pretrained(hf_dir, dtype=torch.float32, attn_implementation="eager",
                                                  output_loading_info=True)
    model.eval()
    summary["loading_info"] = {k: sorted(map(str, v)) for k, v in info.items()}
    load_problems = [f"{k}: {v}" for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v]
    tied = model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    if not tied:
        load_problems.append("lm_head is not tied to wte after loading")
    for problem in load_problems:
        print("LOAD: " + problem)

    ids = torch.tensor([tokens])
    with torch.no_grad():
        hf_fp32 = model(ids).logits[0]
        model.to(torch.bfloat16)
        hf_bf16 = model(ids).logits[0]
    del model
    # Control: the same export run with GPT-2's tanh-approximate GELU. Its distance from our logits
    # is the size of the smallest modelling error this comparison can tell from rounding noise.
    control = GPT2LMHeadModel.from_pretrained(hf_dir, dtype=torch.float32, attn_implementation="eager",
                                              activation_function="gelu_new").eval()
    with torch.no_grad():
        control_diff = (control(ids).logits[0] - ours).abs().max().item()
    del control
    print(f"control (tanh GELU, fp32): max abs diff {control_diff:.3e}")
    summary["control_tanh_gelu_max_abs_diff"] = control_diff
    fp32 = compare("hf fp32 vs zs fp32", hf_fp32, ours)
    bf16 = compare("hf bf16 vs zs fp32", hf_bf16, ours)
    fp32["ok"] = fp32["max_abs_diff"] <= args.fp32_tol
    bf16["ok"] = bf16["max_abs_diff_over_scale"] <= args.bf16_tol
    for r, tol in ((fp32, f"max_abs_diff <= {args.fp32_tol}"), (bf16, f"max_abs_diff_over_scale <= {args.bf16_tol}")):
        print(f"{r['case']}: max abs diff {r['max_abs_diff']:.3e} | max rel diff {r['max_rel_diff']:.3e} | "
              f"abs diff / max|logit| {r['max_abs_diff_over_scale']:.3e} (max|logit| {r['logit_scale']:.3f}) | "
              f"argmax agree {r['argmax_agree']:.3f} | {'OK' if r['ok'] else 'FAIL'} ({tol})")
    summary.update(tokens=seq_len, fp32=fp32, bf16=bf16, load_problems=load_problems, tied_after_load=tied)
    ok = fp32["ok"] and bf16["ok"] and not problems and not load_problems
    summary["ok"] = ok
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
