# transformers' side of the Hugging Face interchange tests (tests/test_hf_interchange.cpp).
#
#   python tests/hf/hf_reference.py make OUT_DIR
#       Tiny random checkpoints written by transformers itself: OUT_DIR/<case>/ as save_pretrained
#       writes it (some rewritten into the older config.json style, or into the hub's GPT-2
#       naming), and OUT_DIR/<case>.ref.safetensors with the inputs, labels (some -100), the fp32
#       logits and the loss transformers computes (labels aligned with the inputs, shifted inside).
#   python tests/hf/hf_reference.py tokenizer TEXT OUT_DIR EXTRA
#       A small byte-level BPE tokenizer.json trained on TEXT (plus EXTRA added tokens, to make the
#       vocabulary as large as wanted) in OUT_DIR, and OUT_DIR/ids.json: TEXT's ids as the
#       tokenizer gives them (what scripts/prepare_tokens.py must write).
#   python tests/hf/hf_reference.py logits MODEL_DIR INPUTS OUT [MODEL_DIR INPUTS OUT ...]
#       from_pretrained(MODEL_DIR) in fp32 on INPUTS' input_ids and labels: OUT gets the logits
#       and the loss (checks that ZeroShard's exports load and compute the same).
import json
import os
import sys

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

torch = load_file = save_file = GPT2Config = GPT2LMHeadModel = LlamaConfig = LlamaForCausalLM = None


def import_transformers():
    """torch and transformers take seconds to import; the tokenizer command needs neither."""
    global torch, load_file, save_file, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

VOCAB = 96
TOKENS = (2, 12)   # batch, sequence


def randomize(model, seed):
    """Norm weights and biases away from 1 and 0, so loading them is checked too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith("ln_1.weight") or name.endswith("ln_2.weight") \
                    or name.endswith("ln_f.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))


def to_old_style(path, key_name="rope_type"):
    """config.json as Llama 2 / 3.1 hub files have it: rope_theta and rope_scaling at the top level."""
    with open(os.path.join(path, "config.json")) as f:
        c = json.load(f)
    rope = c.pop("rope_parameters")
    c["rope_theta"] = rope.pop("rope_theta")
    kind = rope.pop("rope_type")
    c["rope_scaling"] = None if kind == "default" else {key_name: kind, **rope}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(c, f, indent=2)


def to_hub_gpt2(path):
    """GPT-2 as the hub serves it: names without "transformer.", the causal-mask buffers kept."""
    weights = load_file(os.path.join(path, "model.safetensors"))
    renamed = {}
    for name, t in weights.items():
        if name == "lm_head.weight":
            continue
        short = name[len("transformer."):] if name.startswith("transformer.") else name
        renamed[short] = t.contiguous()
        if short.endswith("attn.c_attn.weight"):
            n = int(short.split(".")[1])
            renamed[f"h.{n}.attn.bias"] = torch.tril(torch.ones(32, 32)).view(1, 1, 32, 32)
    save_file(renamed, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})


def load(path):
    with open(os.path.join(path, "config.json")) as f:
        kind = json.load(f)["model_type"]
    cls = LlamaForCausalLM if kind == "llama" else GPT2LMHeadModel
    return cls.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()


def run(model, ids, labels, out_file):
    with torch.no_grad():
        out = model(input_ids=ids, labels=labels)
    save_file({"input_ids": ids, "labels": labels, "logits": out.logits.float().contiguous(),
               "loss": out.loss.float().reshape(1)}, out_file)
    return out.loss.item()


def reference(path, out_file, seed):
    model = load(path)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, model.config.vocab_size, TOKENS, generator=g)
    labels = ids.clone()
    labels[0, 3] = -100
    labels[1, 7:9] = -100
    return run(model, ids, labels, out_file)


def llama(out, name, seed, save_kw=None, old_style=None, dtype=None, **config):
    torch.manual_seed(seed)
    base = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                rms_norm_eps=1e-5, initializer_range=0.05, bos_token_id=1, eos_token_id=2)
    base.update(config)
    model = LlamaForCausalLM(LlamaConfig(**base))
    randomize(model, seed)
    path = os.path.join(out, name)
    model.to(torch.bfloat16 if dtype == "bf16" else torch.float32).save_pretrained(path, **(save_kw or {}))
    if old_style:
        to_old_style(path, old_style)
    return reference(path, path + ".ref.safetensors", seed + 1)


def gpt2(out, name, seed, hub=False):
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=32, n_embd=48, n_layer=2, n_head=3,
                                       resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0,
                                       eos_token_id=0))
    randomize(model, seed)
    path = os.path.join(out, name)
    model.save_pretrained(path)
    if hub:
        to_hub_gpt2(path)
    return reference(path, path + ".ref.safetensors", seed + 1)


def make(out):
    os.makedirs(out, exist_ok=True)
    cases = {
        # One file, untied head, multi-head attention, the older config style (Llama 2's).
        "llama_one_file_untied": lambda: llama(out, "llama_one_file_untied", 1, old_style="rope_type"),
        # Sharded, tied head, grouped-query attention, biases, the newer config style, theta 5e5.
        "llama_sharded_tied_gqa": lambda: llama(
            out, "llama_sharded_tied_gqa", 2, save_kw={"max_shard_size": "40KB"}, tie_word_embeddings=True,
            num_key_value_heads=2, attention_bias=True, mlp_bias=True,
            rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
        # Llama 3.1's rope scaling in the older style ("type" key), one key/value head, head_dim given.
        "llama3_rope_mqa": lambda: llama(
            out, "llama3_rope_mqa", 3, old_style="type", num_key_value_heads=1, head_dim=24,
            max_position_embeddings=256,
            rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 32}),
        # Llama 3.1's rope scaling in the newer style, bf16 weights in sharded files.
        "llama3_rope_bf16_sharded": lambda: llama(
            out, "llama3_rope_bf16_sharded", 4, save_kw={"max_shard_size": "30KB"}, dtype="bf16",
            num_key_value_heads=2,
            rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 4.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
        "gpt2": lambda: gpt2(out, "gpt2", 5),
        "gpt2_hub_names": lambda: gpt2(out, "gpt2_hub_names", 6, hub=True),
    }
    for name, build in cases.items():
        print(f"{name}: loss {build():.6f}", flush=True)
    open(os.path.join(out, "complete"), "w").close()


def logits(args):
    if len(args) % 3 != 0:
        raise SystemExit("logits: MODEL_DIR INPUTS OUT triples expected")
    for i in range(0, len(args), 3):
        model_dir, inputs, out = args[i:i + 3]
        given = load_file(inputs)
        loss = run(load(model_dir), given["input_ids"], given["labels"], out)
        print(f"{model_dir}: loss {loss:.6f}", flush=True)


def tokenizer(text_path, out, extra):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    tok.train([text_path], trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"]))
    if extra > 0:
        tok.add_tokens([f"<extra_{i}>" for i in range(extra)])
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    with open(text_path, encoding="utf-8") as f:
        ids = tok.encode(f.read(), add_special_tokens=False).ids
    with open(os.path.join(out, "ids.json"), "w") as f:
        json.dump({"ids": ids, "vocab_size": tok.get_vocab_size(with_added_tokens=True), "bos": tok.token_to_id("<s>")}, f)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        import_transformers()
        make(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "tokenizer":
        tokenizer(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "logits":
        import_transformers()
        logits(sys.argv[2:])
    else:
        raise SystemExit(__doc__ if __doc__ else "usage: hf_reference.py make OUT_DIR | logits MODEL_DIR INPUTS OUT ...")
