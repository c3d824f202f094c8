#!/usr/bin/env python3
"""Writes the hostile-input corpus (docs/HARDENING.md): small files that are truncated, lie
about sizes or offsets, nest deeply, declare enormous shapes or images, are empty, or have
wrong dtypes or encodings; sweep shards that are not the whole sweep; a training checkpoint
written by an older fmav. Each is named in MANIFEST with the fmav command that reads it and
the message it must get; test_cli runs them under a memory cap. Rerun to rewrite them:

    python make_hostile.py [FMAV]

(the checkpoint, train_resume_old/, is rewritten only when the path of an fmav binary is given.)"""
import json
import os
import shutil
import subprocess
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def npy(header, payload=b""):
    text = repr(header).encode()
    pad = 64 - (10 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload


def safetensors(header, payload=b""):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + payload


def png(width, height, idat):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# Tensors.
write("npy_2g_elements.npy", npy({"descr": "<f4", "fortran_order": False, "shape": (2**31,)}))
write("npy_truncated.npy", npy({"descr": "<f4", "fortran_order": False, "shape": (4, 64)}, b"\0" * 40))
write("npy_complex.npy", npy({"descr": "<c8", "fortran_order": False, "shape": (4, 4)}, b"\0" * 128))
write("npy_fortran.npy", npy({"descr": "<f4", "fortran_order": True, "shape": (2, 2)}, b"\0" * 16))
write("npy_empty.npy", b"")
write("npy_header_lies.npy", b"\x93NUMPY\x01\x00\xff\xff{'descr': '<f4'")
write("st_offsets_lie.safetensors",
      safetensors({"q": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4000000]}}, b"\0" * 16))
write("st_header_2e62.safetensors", struct.pack("<Q", 2**62) + b"{}")
write("st_overlap.safetensors",
      safetensors({"q": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                   "k": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, b"\0" * 24))
write("st_deep.safetensors", struct.pack("<Q", 20002) + b"[" * 10001 + b"]" * 10001)

# A model's config.json (beside an empty model.safetensors: config.json is read first).
for folder in ("model_deep", "model_empty", "model_huge"):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    write(folder + "/model.safetensors", safetensors({}))
write("model_deep/config.json", b"[" * 100000 + b"]" * 100000)
write("model_empty/config.json", b"")
write("model_huge/config.json", json.dumps({
    "format": "fmav-model", "format_version": 1, "architecture": "causal-lm", "d_model": 65536,
    "layers": 1000, "heads": 1, "d_mlp": 65536, "context": 512,
    "attention": {"kind": "fma", "block_size": 32, "rank": 2, "downsample": "learned",
                  "count_multiplicity": True}, "training": {}}).encode())

# Text: UTF-16 with a byte-order mark, and bytes that are not UTF-8.
write("text_utf16.txt", "\ufeffhello, world\n".encode("utf-16-le"))
write("text_latin1.txt", "caf\xe9 na\xefve\n".encode("latin-1") * 20)

# Images: a decompression bomb (100000 x 100000 declared, a few bytes of data), a truncated
# PNG, a file that is not an image.
write("image_bomb.png", png(100000, 100000, zlib.compress(b"\0" * 64)))
write("image_truncated.png", png(16, 16, zlib.compress(b"\0" * (16 * 49)))[:60])
write("image_not_an_image.png", b"GIF89a" + b"\0" * 64)

# Results files: a sweep file whose one line nests deeply.
write("sweep_deep.jsonl", b'{"format":"fmav-sweep","format_version":1,"spec":' + b"[" * 5000 + b"]" * 5000 + b"}\n")

# Non-finite values (fmav/finite.h): q, k, v that parse but hold NaN or Inf, refused with the
# tensor's name, the counts and the first position unless --allow-nonfinite.
def f32(values):
    return struct.pack("<%df" % len(values), *values)


def qkv_safetensors(q, k, v, shape):
    size = 4 * len(q)
    header = {name: {"dtype": "F32", "shape": shape, "data_offsets": [i * size, (i + 1) * size]}
              for i, name in enumerate(("q", "k", "v"))}
    return safetensors(header, f32(q) + f32(k) + f32(v))


N, D = 64, 8
ramp = [((i * 7) % 13 - 6) / 6.0 for i in range(N * D)]
q_nan = list(ramp)
q_nan[3 * D + 5] = float("nan")
write("qkv_nan.safetensors", qkv_safetensors(q_nan, ramp, ramp, [1, 1, N, D]))
k_inf = list(ramp)
k_inf[10 * D + 1] = float("inf")
k_inf[40 * D + 2] = float("-inf")
write("qkv_inf_k.safetensors", qkv_safetensors(ramp, k_inf, ramp, [1, N, D]))
write("npy_all_nan.npy", npy({"descr": "<f4", "fortran_order": False, "shape": (N, D)}, f32([float("nan")] * (N * D))))
# Sizes over the limits the commands are held to before they work (fmav/size_limits.h): a
# sweep file with one head more than a results file may hold, and q, k, v whose attention map
# (32768 x 32768 float64, 8 GiB) is over --map-out's 4 GiB (refused before anything is written).
spec = {"model": "", "input": "", "offset": 0, "heads": 8193, "dim": 64, "causal": False, "ns": [1024],
        "block_sizes": [32], "ranks": [4], "downsamples": ["average"], "multiplicities": [True],
        "dtypes": ["f32"], "repeats": 3, "seed": 0, "shard": 0, "shards": 1}
write("sweep_heads_over.jsonl", json.dumps({"format": "fmav-sweep", "format_version": 1, "spec": spec}).encode() + b"\n")
write("npy_map_over.npy", npy({"descr": "<f4", "fortran_order": False, "shape": (32768, 1)}, b"\0" * (4 * 32768)))


# Merges that are not the whole sweep (docs/HARDENING.md): shard 0 of 2 alone (merge refuses,
# listing the missing points; --partial writes it), and shard 1 cut off in its second point's
# line (a run killed mid-write: the cut line is set aside, its point missing).
def sweep_shard(shard, indexes):
    spec = {"model": "", "input": "", "offset": 0, "heads": 1, "dim": 8, "causal": False, "ns": [64],
            "block_sizes": [8, 16], "ranks": [1, 2], "downsamples": ["learned"], "multiplicities": [True],
            "dtypes": ["f32"], "repeats": 1, "seed": 0, "shard": shard, "shards": 2}
    lines = [{"format": "fmav-sweep", "format_version": 1, "spec": spec}]
    for i in indexes:
        lines.append({"index": i, "n": 64, "r": [8, 8, 16, 16][i], "p": [1, 2, 1, 2][i], "downsample": "learned",
                      "multiplicity": True, "dtype": "f32", "status": "ok", "error": "",
                      "output_rel_error": 0.05, "mean_tv": 0.04, "mean_kl": 0.08, "heads": [[0, 0, 0.05, 0.04, 0.08]],
                      "loss": None, "bpc": None, "accuracy": None, "latency_ms": 0.5, "peak_bytes": 100000,
                      "seconds": 0.02})
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()


write("sweep_shard0_of_2.jsonl", sweep_shard(0, [0, 2]))
write("sweep_shard1_of_2_half.jsonl", sweep_shard(1, [1, 3])[:-60])

# bench --csv onto a file that exists: refused, as --jsonl is (the file is left as it is).
write("bench_existing.csv", b"a results file bench must not overwrite\n")


# A tiny model trained 2 steps, whose checkpoint records its data as an older fmav did:
# relative ("t.txt", beside the model), without the run's history. `train --resume` from
# another folder finds the data beside the model and keeps the checkpoint's eval_tokens (100).
def old_checkpoint(fmav):
    folder = os.path.join(HERE, "train_resume_old")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    text = "".join("%05d the quick brown fox jumps over the lazy dog.\n" % i for i in range(120))
    write("train_resume_old/t.txt", text.encode())
    subprocess.run([fmav, "train", "--data", "t.txt", "--out", ".", "--context", "32", "--d-model", "8",
                    "--layers", "1", "--heads", "1", "--d-mlp", "16", "--block", "8", "--rank", "2",
                    "--steps", "2", "--batch", "2", "--eval-every", "0", "--eval-tokens", "100"],
                   cwd=folder, check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(folder, "checkpoint.safetensors")
    with open(path, "rb") as f:
        data = f.read()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    options = json.loads(header["__metadata__"]["options"])
    options["data"] = "t.txt"
    del options["command"], options["seconds"]
    header["__metadata__"]["options"] = json.dumps(options)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data[8 + size:])


if len(sys.argv) > 1:
    old_checkpoint(os.path.abspath(sys.argv[1]))
