"""Tiny random Hugging Face models of every family fmav/hf_model.h reads, made by
`transformers` itself (tests only; the app never runs Python), each with the reference
outputs the C++ side must match: for fixed token ids, the logits and every layer's eager
attention probabilities (computed in float64, stored as float32), in reference.safetensors
beside the model.

    python make_hf_models.py OUT_DIR
"""

import os
import sys

import torch
import transformers
from safetensors.torch import save_file

N = 40  # tokens of the reference input


def families():
    gpt2 = transformers.GPT2Config(vocab_size=320, n_embd=64, n_layer=2, n_head=4, n_positions=64)
    llama = transformers.LlamaConfig(vocab_size=320, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, rope_theta=5000.0,
                                     tie_word_embeddings=False, max_position_embeddings=256)
    llama3 = transformers.LlamaConfig(vocab_size=101, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=1, tie_word_embeddings=True,
                                      max_position_embeddings=256,
                                      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                    "high_freq_factor": 4.0,
                                                    "original_max_position_embeddings": 16})
    linear = transformers.LlamaConfig(vocab_size=101, hidden_size=48, intermediate_size=80, num_hidden_layers=1,
                                      num_attention_heads=3, head_dim=16, max_position_embeddings=256,
                                      rope_scaling={"rope_type": "linear", "factor": 2.0})
    qwen2 = transformers.Qwen2Config(vocab_size=101, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                                     max_position_embeddings=256)
    mistral = transformers.MistralConfig(vocab_size=101, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, sliding_window=8,
                                         max_position_embeddings=256)
    return {"gpt2": (gpt2, torch.float32), "llama": (llama, torch.float32), "llama3-tied": (llama3, torch.float32),
            "llama-linear-bf16": (linear, torch.bfloat16), "qwen2": (qwen2, torch.float32),
            "mistral": (mistral, torch.float16)}


# The byte-level tokenizers and the text they are checked on come from make_hf_tokenizers.py
# (test_hf_tokenizer checks every kind); gpt2 and llama get theirs beside the model.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_hf_tokenizers import TEXT, train_byte_level as train_tokenizers  # noqa: E402


def main(out):
    torch.manual_seed(0)
    ids = torch.randint(0, 101, (1, N))
    for name, (config, dtype) in families().items():
        config._attn_implementation = "eager"
        model = transformers.AutoModelForCausalLM.from_config(config).eval()
        # Random weights with some spread (the default init is nearly flat attention).
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 0.2)
        model = model.to(dtype)
        folder = os.path.join(out, name)
        # gpt2 also as shards with an index, as large checkpoints are saved.
        model.save_pretrained(folder, safe_serialization=True)
        if name == "gpt2":
            model.save_pretrained(os.path.join(out, "gpt2-sharded"), safe_serialization=True, max_shard_size="40KB")
        # The reference is the saved folder as transformers loads it, run in float64 (an
        # in-memory model cast to bfloat16 and back would carry rounded RoPE frequencies).
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager",
                                                                  dtype=torch.float64).eval()
        with torch.no_grad():
            result = model(ids, labels=ids, output_attentions=True)
        tensors = {"ids": ids[0].contiguous(), "logits": result.logits[0].float().contiguous(),
                   "loss": result.loss.reshape(1).contiguous()}
        for layer, probs in enumerate(result.attentions):
            tensors[f"probs.{layer}"] = probs[0].float().contiguous()
        save_file(tensors, os.path.join(folder, "reference.safetensors"))
        if name == "gpt2":
            save_file(tensors, os.path.join(out, "gpt2-sharded", "reference.safetensors"))
    corpus = open(os.path.join(os.path.dirname(__file__), "..", "..", "assets", "corpus.txt"), encoding="utf-8").read()
    for name, tok in train_tokenizers(corpus).items():
        tok.save(os.path.join(out, name, "tokenizer.json"))
        with open(os.path.join(out, name, "tokenizer_text.txt"), "w", encoding="utf-8", newline="") as f:
            f.write(TEXT)
        ids = tok.encode(TEXT, add_special_tokens=False).ids
        save_file({"ids": torch.tensor(ids, dtype=torch.int64)}, os.path.join(out, name, "tokenizer_ids.safetensors"))
    print(f"made {len(families())} models in {out} with transformers {transformers.__version__}")


if __name__ == "__main__":
    main(sys.argv[1])
