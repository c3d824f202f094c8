"""The peer of `fmav bench-model`: times `transformers`' forward pass of a Hugging Face folder
on the same token ids and threads, in float32 on the CPU (no cache, no attention maps), and
writes its logits so the C++ side can check it ran the same model.

    python bench_hf_peer.py --model DIR --ids IDS.safetensors --threads T --repeats R \
        --warmup W --logits-out OUT.safetensors

Prints one JSON line: median_ms, times_ms, threads, torch, transformers. Exits 3 when torch,
transformers or safetensors cannot be imported.
"""

import argparse
import json
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--logits-out", required=True)
    a = ap.parse_args()
    try:
        import torch
        import transformers
        from safetensors.torch import load_file, save_file
    except ImportError as e:
        print(json.dumps({"error": f"cannot import {e.name}"}))
        sys.exit(3)
    torch.set_num_threads(a.threads)
    model = transformers.AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32,
                                                              attn_implementation="sdpa").eval()
    ids = load_file(a.ids)["ids"].to(torch.int64).view(1, -1)
    times = []
    with torch.inference_mode():
        for _ in range(a.warmup):
            model(ids, use_cache=False)
        for _ in range(a.repeats):
            t = time.perf_counter()
            out = model(ids, use_cache=False)
            times.append(1000 * (time.perf_counter() - t))
    save_file({"logits": out.logits[0].float().contiguous()}, a.logits_out)
    print(json.dumps({"median_ms": statistics.median(times), "times_ms": times, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
