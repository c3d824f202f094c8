"""A small llama-family model trained by `transformers` on assets/corpus.txt, so that
perplexities mean something (the README's table: original -> FMA average -> FMA fitted).
The corpus is split by bytes: the first 90% trains (the tokenizer and the model), the last
10% is held out. A byte-level BPE tokenizer (GPT-2's pre-tokenizer) is trained on the
training part, as tests/models/make_hf_models.py does.

    python scripts/train_tiny_llama.py OUT_DIR [--minutes 4] [--threads 1]

Writes OUT_DIR/model (config.json, model.safetensors, tokenizer.json), OUT_DIR/train.txt and
OUT_DIR/heldout.txt. Deterministic for a given number of steps (seeded).
"""

import argparse
import math
import os
import time

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

CONTEXT = 256


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=1024)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    corpus_path = os.path.join(os.path.dirname(__file__), "..", "assets", "corpus.txt")
    raw = open(corpus_path, "rb").read()
    cut = len(raw) * 9 // 10
    while cut < len(raw) and (raw[cut] & 0xC0) == 0x80:  # a UTF-8 character boundary
        cut += 1
    train_text, held_text = raw[:cut].decode("utf-8"), raw[cut:].decode("utf-8")
    os.makedirs(os.path.join(a.out, "model"), exist_ok=True)
    for name, text in (("train.txt", train_text), ("heldout.txt", held_text)):
        with open(os.path.join(a.out, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([train_text], trainers.BpeTrainer(vocab_size=a.vocab,
                                                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                              special_tokens=["<|endoftext|>"]))
    tok.save(os.path.join(a.out, "model", "tokenizer.json"))
    ids = torch.tensor(tok.encode(train_text).ids, dtype=torch.int64)
    held = torch.tensor(tok.encode(held_text).ids, dtype=torch.int64)

    config = transformers.LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=128, intermediate_size=384,
                                      num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                                      max_position_embeddings=1024, tie_word_embeddings=True, rope_theta=10000.0)
    config._attn_implementation = "sdpa"
    model = transformers.AutoModelForCausalLM.from_config(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05, betas=(0.9, 0.95))
    batch, step, start = 16, 0, time.time()
    budget = a.minutes * 60
    g = torch.Generator().manual_seed(1)
    model.train()
    while time.time() - start < budget:
        frac = (time.time() - start) / budget
        for group in opt.param_groups:
            group["lr"] = 3e-3 * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        starts = torch.randint(0, len(ids) - CONTEXT - 1, (batch,), generator=g)
        x = torch.stack([ids[s:s + CONTEXT] for s in starts])
        loss = model(x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step}  loss {loss.item():.4f}  {time.time() - start:.0f} s", flush=True)
    model.eval()
    losses = []
    with torch.no_grad():
        for s in range(0, len(held) - 1, CONTEXT):
            x = held[s:s + CONTEXT].view(1, -1)
            if x.size(1) < 2:
                continue
            losses.append((model(x, labels=x).loss.item(), x.size(1) - 1))
    held_loss = sum(l * n for l, n in losses) / sum(n for _, n in losses)
    model.save_pretrained(os.path.join(a.out, "model"), safe_serialization=True)
    print(f"trained {step} steps; held-out loss {held_loss:.4f}, perplexity {math.exp(held_loss):.3f} "
          f"over {sum(n for _, n in losses)} tokens (windows of {CONTEXT}); transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
