"""Tiny random Hugging Face models of every family fmav/hf_model.h reads, made by
`transformers` itself (tests only; the app never runs Python), each with the reference
outputs the C++ side must match: for fixed token ids (a vit: a PNG image), the logits and
every layer's eager attention probabilities (computed in float64, stored as float32), in
reference.safetensors beside the model; the masked LMs also their loss on the masking rule
of HfModel::evaluate_masked, the vit its loss on a label.

    python make_hf_models.py OUT_DIR
"""

import json
import os
import struct
import sys
import zlib

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


def encoder_families():
    """The masked LMs and the image classifier: bert (and an untied one with ReLU), roberta in
    float16 with gelu_new layers, vit in bfloat16 with named classes."""
    bert = transformers.BertConfig(vocab_size=120, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=96, max_position_embeddings=64)
    bert_untied = transformers.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                          intermediate_size=48, max_position_embeddings=48, hidden_act="relu",
                                          type_vocab_size=1, tie_word_embeddings=False)
    roberta = transformers.RobertaConfig(vocab_size=120, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                         intermediate_size=96, max_position_embeddings=66, hidden_act="gelu_new",
                                         pad_token_id=1, bos_token_id=0, eos_token_id=2)
    vit = transformers.ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
                                 image_size=32, patch_size=8, num_labels=5,
                                 id2label={0: "cat", 1: "dog", 2: "ship", 3: "frog", 4: "truck"},
                                 label2id={"cat": 0, "dog": 1, "ship": 2, "frog": 3, "truck": 4})
    return {"bert": (bert, torch.float32, transformers.BertForMaskedLM),
            "bert-untied-relu": (bert_untied, torch.float32, transformers.BertForMaskedLM),
            "roberta": (roberta, torch.float16, transformers.RobertaForMaskedLM),
            "vit": (vit, torch.bfloat16, transformers.ViTForImageClassification)}


MASK_EVERY = 7  # HfMasking's rule: every 7th non-special token, from the first
VIT_LABEL = 3
VIT_PROCESSOR = {"image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 32, "width": 32},
                 "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                 "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}


def masked_input(config, ids, mask_id):
    """HfModel::evaluate_masked's rule on ids (1, N): the masked ids and the labels (-100 where
    not masked). Special: the config's pad/bos/eos ids and the mask itself."""
    special = {t for t in (config.pad_token_id, getattr(config, "bos_token_id", None),
                           getattr(config, "eos_token_id", None)) if t is not None} | {mask_id}
    masked, labels = ids.clone(), torch.full_like(ids, -100)
    count = 0
    for i, t in enumerate(ids[0].tolist()):
        if t in special:
            continue
        if count % MASK_EVERY == 0:
            masked[0, i], labels[0, i] = mask_id, t
        count += 1
    return masked, labels


def write_png(path, rgb):
    """An 8-bit RGB PNG of rgb (H, W, 3) uint8, written by hand (no PIL in the environment)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + bytes(rgb[y].flatten().tolist()) for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def vit_pixels(rgb, p):
    """ViTImageProcessor's steps on an image already at its size (resizing is the identity):
    rescale, then normalize, in float64. torchvision is not installed, so the processor class
    itself cannot run here; these are its documented steps."""
    x = rgb.permute(2, 0, 1).double() * p["rescale_factor"]
    mean, std = torch.tensor(p["image_mean"], dtype=torch.float64), torch.tensor(p["image_std"], dtype=torch.float64)
    return ((x - mean.view(3, 1, 1)) / std.view(3, 1, 1)).unsqueeze(0)


def make_encoders(out, generator):
    for name, (config, dtype, cls) in encoder_families().items():
        config._attn_implementation = "eager"
        model = cls(config).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 0.2, generator=generator)
        folder = os.path.join(out, name)
        model.to(dtype).save_pretrained(folder, safe_serialization=True)
        model = cls.from_pretrained(folder, attn_implementation="eager", dtype=torch.float64).eval()
        tensors = {}
        with torch.no_grad():
            if name == "vit":
                rgb = torch.randint(0, 256, (32, 32, 3), dtype=torch.uint8, generator=generator)
                write_png(os.path.join(folder, "image.png"), rgb)
                with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
                    json.dump(VIT_PROCESSOR, f, indent=2)
                pixels = vit_pixels(rgb, VIT_PROCESSOR)
                result = model(pixels, labels=torch.tensor([VIT_LABEL]), output_attentions=True)
                tensors.update({"pixels": pixels[0].float().contiguous(), "label": torch.tensor([VIT_LABEL]),
                                "loss": result.loss.reshape(1).contiguous()})
            else:
                # Tokens 3..vocab-2 (vocab-1 is the mask here), with special ids inside: bert's
                # padding id, roberta's <s> ... </s> and a padding id, which moves its positions.
                ids = torch.randint(3, config.vocab_size - 1, (1, N), generator=generator)
                ids[0, 5] = config.pad_token_id
                if name == "roberta":
                    ids[0, 0], ids[0, -1] = config.bos_token_id, config.eos_token_id
                mask_id = config.vocab_size - 1
                masked, labels = masked_input(config, ids, mask_id)
                result = model(ids, output_attentions=True)
                tensors.update({"ids": ids[0].contiguous(), "mask_id": torch.tensor([mask_id]),
                                "masked_positions": (labels[0] != -100).nonzero()[:, 0].contiguous(),
                                "masked_loss": model(masked, labels=labels).loss.reshape(1).contiguous()})
        tensors["logits"] = result.logits[0].float().contiguous()
        for layer, probs in enumerate(result.attentions):
            tensors[f"probs.{layer}"] = probs[0].float().contiguous()
        save_file(tensors, os.path.join(folder, "reference.safetensors"))


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
    make_encoders(out, torch.Generator().manual_seed(1))
    corpus = open(os.path.join(os.path.dirname(__file__), "..", "..", "assets", "corpus.txt"), encoding="utf-8").read()
    for name, tok in train_tokenizers(corpus).items():
        tok.save(os.path.join(out, name, "tokenizer.json"))
        with open(os.path.join(out, name, "tokenizer_text.txt"), "w", encoding="utf-8", newline="") as f:
            f.write(TEXT)
        ids = tok.encode(TEXT, add_special_tokens=False).ids
        save_file({"ids": torch.tensor(ids, dtype=torch.int64)}, os.path.join(out, name, "tokenizer_ids.safetensors"))
    print(f"made {len(families()) + len(encoder_families())} models in {out} with transformers {transformers.__version__}")


if __name__ == "__main__":
    main(sys.argv[1])
