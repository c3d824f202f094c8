#!/usr/bin/env python3
"""A random-weight Llama for the README's Hugging Face screenshots: 4 layers, 8 query heads
sharing 4 K/V heads (GQA), head_dim 32, RoPE; q and k drawn wider in later layers so the heads differ,
and in half the heads k_proj equal to q_proj's rows (a token attends most to itself and to
tokens like it). The tokenizer is the test's Llama-3-style BPE
(tests/models/make_hf_models.py trains it). Tests and docs only: the app never runs Python.

    python hf_screenshot_model.py OUT_DIR path/to/tokenizer.json
"""
import shutil, sys, torch, transformers
out, tokenizer = sys.argv[1], sys.argv[2]
config = transformers.LlamaConfig(vocab_size=320, hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                                  num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=1024,
                                  rope_theta=500.0, tie_word_embeddings=True)
torch.manual_seed(1)
model = transformers.AutoModelForCausalLM.from_config(config)
with torch.no_grad():
    for p in model.parameters():
        p.normal_(0.0, 0.06)
    for name, p in model.named_parameters():
        if "norm" in name:
            p.fill_(1.0)
    model.model.embed_tokens.weight.normal_(0.0, 1.0)
    for i, layer in enumerate(model.model.layers):
        a = layer.self_attn
        a.q_proj.weight.normal_(0.0, 0.05 + 0.02 * i)
        a.k_proj.weight.normal_(0.0, 0.08 + 0.02 * i)
        for kv in (0, 2):  # K/V heads 0 and 2 (query heads 0, 1, 4, 5) match their queries' rows
            a.k_proj.weight[kv * 32:(kv + 1) * 32] = a.q_proj.weight[2 * kv * 32:(2 * kv + 1) * 32]
model.save_pretrained(out, safe_serialization=True)
shutil.copy(tokenizer, out)
