"""Random ~100M-parameter Hugging Face models for `fmav bench-model` (float32, made by
`transformers` from a config: nothing is downloaded). About 0.5 GB each; delete them after.

    python scripts/make_bench_models.py OUT_DIR

OUT_DIR/gpt2-124m: GPT-2 small's shape (12 layers, width 768, 12 heads, vocabulary 50257).
OUT_DIR/llama-100m: a llama of 12 layers, width 768, 12 query and 4 key/value heads, MLP 2048,
vocabulary 32000, tied embeddings.
"""

import os
import sys

import torch
import transformers


def main(out):
    torch.manual_seed(0)
    configs = {
        "gpt2-124m": transformers.GPT2Config(n_embd=768, n_layer=12, n_head=12, n_positions=1024, vocab_size=50257),
        "llama-100m": transformers.LlamaConfig(vocab_size=32000, hidden_size=768, intermediate_size=2048,
                                               num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=4,
                                               max_position_embeddings=2048, tie_word_embeddings=True),
    }
    for name, config in configs.items():
        model = transformers.AutoModelForCausalLM.from_config(config).eval()
        model.save_pretrained(os.path.join(out, name), safe_serialization=True)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {params / 1e6:.1f} M parameters")


if __name__ == "__main__":
    main(sys.argv[1])
