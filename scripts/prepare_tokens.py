#!/usr/bin/env python3
"""Turns raw text into a ZeroShard / nanoGPT token folder with a model's own tokenizer.json.

    python scripts/prepare_tokens.py --tokenizer path/to/Meta-Llama-3-8B --input corpus.txt --out data/corpus

writes data/corpus/train.bin and val.bin (little-endian token ids: uint16 for vocabularies up to
65,536 ids, uint32 beyond, e.g. Llama 3's 128,256) and meta.json recording the width and the
vocabulary size, which train_llama and train_gpt read beside the data. --tokenizer takes a
tokenizer.json file or a Hugging Face model directory holding one. The text is split like
nanoGPT's prepare scripts: the first (1 - val_fraction) of each input file for training, the
rest for validation; each file's tokens start with the tokenizer's BOS id when --bos is given
(Llama's convention) and end with its EOS id when --eos is given (GPT-2's <|endoftext|>).

Needs the `tokenizers` and `numpy` packages (PyPI); scripts/hf_venv.sh makes an environment with
both (.deps/hfvenv/bin/python). For Llama 2's SentencePiece tokenizer.model, train_llama reads
raw text itself (--data text.txt --tokenizer tokenizer.model).
"""
import argparse
import json
import os
import sys

import numpy as np
from tokenizers import Tokenizer


def tokenizer_path(given):
    if os.path.isdir(given):
        path = os.path.join(given, "tokenizer.json")
        if not os.path.isfile(path):
            raise SystemExit(f"{given} has no tokenizer.json (for a tokenizer.model, use train_llama --tokenizer)")
        return path
    if not os.path.isfile(given):
        raise SystemExit(f"tokenizer {given} does not exist")
    return given


def special_id(tok, names, what):
    for name in names:
        token_id = tok.token_to_id(name)
        if token_id is not None:
            return token_id
    raise SystemExit(f"the tokenizer has no {what} token (looked for {', '.join(names)})")


def encode_file(tok, path, chunk_chars=1 << 20):
    """Token ids of a text file, encoded in pieces cut at line ends (bounded memory per call)."""
    ids = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = 0
    while start < len(text):
        end = min(len(text), start + chunk_chars)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            end = cut + 1 if cut > start else end
        ids.extend(tok.encode(text[start:end], add_special_tokens=False).ids)
        start = end
    return ids


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", required=True, help="tokenizer.json, or a model directory holding it")
    p.add_argument("--input", required=True, nargs="+", help="UTF-8 text file(s)")
    p.add_argument("--out", required=True, help="token folder to write (train.bin, val.bin, meta.json)")
    p.add_argument("--val_fraction", type=float, default=0.1)
    p.add_argument("--bos", action="store_true", help="start each file with the BOS token")
    p.add_argument("--eos", action="store_true", help="end each file with the EOS token")
    args = p.parse_args()
    if not 0 < args.val_fraction < 1:
        raise SystemExit("--val_fraction must be between 0 and 1")

    path = tokenizer_path(args.tokenizer)
    tok = Tokenizer.from_file(path)
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    bos = special_id(tok, ["<s>", "<|begin_of_text|>", "<|endoftext|>"], "BOS") if args.bos else None
    eos = special_id(tok, ["</s>", "<|end_of_text|>", "<|endoftext|>"], "EOS") if args.eos else None
    dtype = np.uint16 if vocab_size <= 65536 else np.uint32

    train, val = [], []
    for name in args.input:
        ids = ([bos] if bos is not None else []) + encode_file(tok, name) + ([eos] if eos is not None else [])
        n_train = int(len(ids) * (1 - args.val_fraction))
        train.extend(ids[:n_train])
        val.extend(ids[n_train:])
        print(f"{name}: {len(ids):,} tokens", file=sys.stderr)
    if not train or not val:
        raise SystemExit("the input is too short for both a train and a val split")

    os.makedirs(args.out, exist_ok=True)
    np.array(train, dtype=dtype).tofile(os.path.join(args.out, "train.bin"))
    np.array(val, dtype=dtype).tofile(os.path.join(args.out, "val.bin"))
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"dtype": np.dtype(dtype).name, "vocab_size": vocab_size, "tokenizer": os.path.abspath(path)}, f, indent=2)
    print(f"wrote {args.out}: train {len(train):,} tokens, val {len(val):,} tokens, {np.dtype(dtype).name} "
          f"(vocabulary {vocab_size:,})")


if __name__ == "__main__":
    main()
