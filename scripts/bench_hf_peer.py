"""The peer of `fmav bench-model`: `transformers`' forward pass of a Hugging Face folder on the
same token ids and threads, in float32 on the CPU (no cache, no attention maps), timed one
pass at a time when asked, so the two sides alternate and share whatever load the machine has.

    python bench_hf_peer.py --model DIR --ids IDS.safetensors --threads T --warmup W \
        --logits-out OUT.safetensors

Reads commands from stdin: "run" times one forward pass and prints its milliseconds on a
line; "quit" writes the last logits to --logits-out and prints one JSON line (threads, torch,
transformers). Prints "ready" once loaded and warm. Exits 3 when torch, transformers or
safetensors cannot be imported.
"""

import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--logits-out", required=True)
    a = ap.parse_args()
    try:
        import torch
        import transformers
        from safetensors.torch import load_file, save_file
    except ImportError as e:
        print(json.dumps({"error": f"cannot import {e.name}"}), flush=True)
        sys.exit(3)
    torch.set_num_threads(a.threads)
    model = transformers.AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32,
                                                              attn_implementation="sdpa").eval()
    ids = load_file(a.ids)["ids"].to(torch.int64).view(1, -1)
    with torch.inference_mode():
        out = None
        for _ in range(a.warmup):
            out = model(ids, use_cache=False)
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "run":
                t = time.perf_counter()
                out = model(ids, use_cache=False)
                print(f"{1000 * (time.perf_counter() - t):.6f}", flush=True)
            elif line.strip() == "quit":
                break
    if out is None:
        out = model(ids, use_cache=False)
    save_file({"logits": out.logits[0].float().contiguous()}, a.logits_out)
    print(json.dumps({"threads": torch.get_num_threads(), "torch": torch.__version__,
                      "transformers": transformers.__version__}), flush=True)


if __name__ == "__main__":
    main()
