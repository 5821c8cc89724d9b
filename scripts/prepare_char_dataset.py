#!/usr/bin/env python3
"""Writes a character-level dataset folder in nanoGPT's layout from a local text file:

    python3 scripts/prepare_char_dataset.py tinyshakespeare.txt data/shakespeare_char

gives data/shakespeare_char/train.bin and val.bin (uint16 token ids of the first 90% and the
last 10% of the text) and meta.pkl ({'vocab_size', 'itos', 'stoi'}), which
`train_gpt --dataset=shakespeare_char` reads (vocabulary size from meta.pkl, samples decoded with
its characters). The vocabulary is the sorted set of the text's characters. Python's standard
library only; nothing is downloaded.
"""
import argparse
import array
import os
import pickle
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", help="a UTF-8 text file")
    parser.add_argument("out_dir", help="the dataset folder to write (created if missing)")
    parser.add_argument("--val_fraction", type=float, default=0.1)
    args = parser.parse_args()

    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    if not text:
        sys.exit(f"{args.text} is empty")
    chars = sorted(set(text))
    if len(chars) > 65536:
        sys.exit(f"{len(chars)} distinct characters do not fit uint16 token ids")
    stoi = {c: i for i, c in enumerate(chars)}
    itos = {i: c for i, c in enumerate(chars)}
    ids = array.array("H", (stoi[c] for c in text))
    if sys.byteorder == "big":
        ids.byteswap()  # the .bin files are little-endian
    split = int(len(ids) * (1.0 - args.val_fraction))

    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "train.bin"), "wb") as f:
        ids[:split].tofile(f)
    with open(os.path.join(args.out_dir, "val.bin"), "wb") as f:
        ids[split:].tofile(f)
    with open(os.path.join(args.out_dir, "meta.pkl"), "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": itos, "stoi": stoi}, f)
    print(f"{args.out_dir}: {split:,} train and {len(ids) - split:,} val tokens, vocabulary of {len(chars)}")


if __name__ == "__main__":
    main()
