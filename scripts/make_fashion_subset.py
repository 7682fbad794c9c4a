#!/usr/bin/env python3
"""Draw the Fashion-MNIST subset embedded in glassbox-data.

Source: Debian's `dataset-fashion-mnist` package (the original Zalando IDX files, installed
under /usr/share/datasets/fashion-mnist). The subset is stratified: for each of the 10 classes
we shuffle that class's indices with Python's `random.Random(SEED)` and keep the first
TRAIN_PER_CLASS (from the 60k training set) or TEST_PER_CLASS (from the 10k test set); the kept
indices are then sorted so the subset keeps the original file order. Output: IDX files
compressed with xz (CRC32 check), which glassbox-data's IDX reader decompresses.

Usage: python3 scripts/make_fashion_subset.py [SRC_DIR] [OUT_DIR]
Only the standard library is needed.
"""
import gzip
import lzma
import os
import random
import struct
import sys

SEED = 20261124
TRAIN_PER_CLASS = 1000
TEST_PER_CLASS = 200
SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    os.path.dirname(__file__), "..", "crates", "glassbox-data", "data")


def read_idx(path):
    with gzip.open(path) as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return dims, raw[4 + 4 * ndim:]


def write_idx_xz(path, dims, payload):
    header = bytes([0, 0, 0x08, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
    data = lzma.compress(header + payload, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                         preset=9 | lzma.PRESET_EXTREME)
    with open(path, "wb") as f:
        f.write(data)
    print(f"wrote {path}: dims {dims}, {len(data)} bytes")


def subset(split, prefix, per_class, rng):
    idims, images = read_idx(os.path.join(SRC, f"{prefix}-images-idx3-ubyte.gz"))
    _, labels = read_idx(os.path.join(SRC, f"{prefix}-labels-idx1-ubyte.gz"))
    pixels = idims[1] * idims[2]
    keep = []
    for c in range(10):
        idx = [i for i, l in enumerate(labels) if l == c]
        rng.shuffle(idx)
        keep.extend(idx[:per_class])
    keep.sort()
    img = b"".join(images[i * pixels:(i + 1) * pixels] for i in keep)
    lab = bytes(labels[i] for i in keep)
    write_idx_xz(os.path.join(OUT, f"{split}-images-idx3-ubyte.xz"), (len(keep), idims[1], idims[2]), img)
    write_idx_xz(os.path.join(OUT, f"{split}-labels-idx1-ubyte.xz"), (len(keep),), lab)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(SEED)
    subset("train", "train", TRAIN_PER_CLASS, rng)
    subset("test", "t10k", TEST_PER_CLASS, rng)


if __name__ == "__main__":
    main()
