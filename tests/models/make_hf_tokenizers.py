"""Tokenizers of every kind fmav/hf_tokenizer.h reads, trained by `tokenizers` itself on the
project's corpus (tests only; the app never runs Python), with the ids `tokenizers` gives for
a set of awkward texts, with add_special_tokens False and True:

    OUT/texts.json           the texts
    OUT/NAME/tokenizer.json  one tokenizer
    OUT/NAME/ids.json        {"plain": [ids per text], "special": [ids per text]}

    python make_hf_tokenizers.py OUT_DIR

Kinds: byte-level BPE as GPT-2, Llama 3 (a Split regex) and RoBERTa (a prefix space, <s> </s>)
write it; SentencePiece-style BPE as Llama 2 (normalizer Prepend + Replace, byte fallback
<0xXX>) and as Mistral's newer files (NFKC, the Metaspace pre-tokenizer, unk fused); WordPiece
as BERT (BertNormalizer, BertPreTokenizer) and with a Sequence of common normalizers and
pre-tokenizers.
"""

import json
import os
import sys

from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors,
                        trainers)

# What tokenizers get wrong: accents (composed and not), CJK, emoji with modifiers and a
# zero-width joiner, runs of spaces, tabs, CR/LF, digits, contractions, a ligature, a dotted
# capital I, a control character, every kind's special tokens inside the text.
TEXT = ("Hello  world!\n\n  It's 2026: café, naïve, Ærøskøbing; 東京タワー, 🙂👍🏽 — \"quotes\"\t\ttabs\r\n"
        "and   runs   of spaces...  I'LL  we've 1234567 x<|endoftext|>y  <|begin_of_text|> end \u00a0nbsp")
TEXTS = [
    TEXT,
    TEXT + " [CLS] a[SEP]b [MASK] <s>c</s> <unk> <mask>d cafe\u0301 ﬁne İstanbul 👩\u200d💻 \x07bell \ufffd",
    "",
    " ",
    "   leading and trailing   ",
    "\n\tx\r\n",
    "<s>",
    "</s> after",
    "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3 + " short",
    "ÀÉÎÕÜ çÇ ß ΣΑΣ Ωmega Привет мир",
    "中文字符测试，还有标点。한국어 テスト",
    "1234567890 3.14159 -42 1e10",
]
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")


def train_byte_level(corpus):
    """Byte-level BPE tokenizers: GPT-2's pre-tokenizer, and Llama 3's (a Split regex, then
    bytes; ignore_merges). make_hf_models.py puts them beside its gpt2 and llama models."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    gpt2 = Tokenizer(models.BPE())
    gpt2.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    gpt2.decoder = decoders.ByteLevel()
    gpt2.train_from_iterator([corpus], trainers.BpeTrainer(vocab_size=320, initial_alphabet=alphabet,
                                                           special_tokens=["<|endoftext|>"]))
    llama3 = Tokenizer(models.BPE(ignore_merges=True))
    llama3.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    llama3.train_from_iterator([corpus], trainers.BpeTrainer(vocab_size=320, initial_alphabet=alphabet,
                                                             special_tokens=["<|begin_of_text|>", "<|endoftext|>"]))
    llama3.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 0)])])
    return {"gpt2": gpt2, "llama": llama3}


def with_byte_tokens(tok):
    """The tokenizer with <0x00>..<0xFF> in its vocabulary after the special tokens, as
    Llama 2's sentencepiece conversion has them (the trainer does not add them)."""
    d = json.loads(tok.to_str())
    vocab = d["model"]["vocab"]
    special = [t for t, i in sorted(vocab.items(), key=lambda x: x[1]) if i < 3]
    rest = [t for t, i in sorted(vocab.items(), key=lambda x: x[1]) if i >= 3]
    order = special + [f"<0x{b:02X}>" for b in range(256)] + [t for t in rest if not t.startswith("<0x")]
    d["model"]["vocab"] = {t: i for i, t in enumerate(order)}
    return Tokenizer.from_str(json.dumps(d))


def with_lstrip(tok, content):
    """The tokenizer with added token `content` taking the whitespace before it."""
    d = json.loads(tok.to_str())
    for t in d["added_tokens"]:
        if t["content"] == content:
            t["lstrip"] = True
    return Tokenizer.from_str(json.dumps(d))


def train_others(corpus):
    lines = corpus.splitlines()
    out = {}
    # Llama 2: no pre-tokenizer, ▁ from the normalizer, bytes for what the vocabulary lacks.
    llama2 = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    llama2.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Prepend("▁"),
                                              normalizers.Replace(" ", "▁")])
    llama2.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=500, limit_alphabet=60,
                                                          special_tokens=["<unk>", "<s>", "</s>"]))
    llama2 = with_byte_tokens(llama2)
    llama2.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    llama2.add_tokens([AddedToken("tabs", rstrip=True, normalized=False)])  # takes the whitespace after it
    llama2.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                        decoders.Strip(" ", 1, 0)])
    out["llama2"] = llama2
    # Mistral's newer files: the Metaspace pre-tokenizer (▁ first only), unknown characters fused.
    mistral = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    mistral.normalizer = normalizers.NFKC()
    mistral.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    mistral.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    mistral.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=400, limit_alphabet=70,
                                                           special_tokens=["<unk>", "<s>", "</s>"]))
    mistral.post_processor = processors.TemplateProcessing(single="<s> $A </s>",
                                                           special_tokens=[("<s>", 1), ("</s>", 2)])
    out["mistral"] = mistral
    # RoBERTa: byte-level BPE with a prefix space, <s> ... </s>.
    roberta = Tokenizer(models.BPE())
    roberta.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    roberta.decoder = decoders.ByteLevel()
    roberta.train_from_iterator([corpus], trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]))
    roberta.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    roberta = with_lstrip(roberta, "<mask>")  # as RoBERTa's own file has it
    out["roberta"] = roberta
    # BERT, uncased.
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    bert = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    bert.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                 lowercase=True)
    bert.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    bert.decoder = decoders.WordPiece()
    bert.train_from_iterator([corpus], trainers.WordPieceTrainer(vocab_size=600, limit_alphabet=80,
                                                                 special_tokens=specials))
    bert.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    bert.add_tokens([AddedToken("NAÏVE", normalized=True)])  # matched after normalization: "naive"
    out["bert"] = bert
    # WordPiece after a Sequence of common normalizers and pre-tokenizers, cased, short words.
    seq = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=20))
    seq.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.NFKC(),
                                           normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip(),
                                           normalizers.Lowercase(), normalizers.NFD(), normalizers.NFC()])
    seq.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(),
                                                 pre_tokenizers.Digits(individual_digits=True)])
    seq.train_from_iterator([corpus], trainers.WordPieceTrainer(vocab_size=500, limit_alphabet=60,
                                                                special_tokens=specials))
    seq.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    seq.add_tokens([AddedToken("ﬁne", normalized=True), AddedToken("world", lstrip=True, normalized=False)])
    out["wordpiece-seq"] = seq
    return out


def main(out):
    corpus = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets", "corpus.txt"),
                  encoding="utf-8").read()
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "texts.json"), "w", encoding="utf-8") as f:
        json.dump(TEXTS, f, ensure_ascii=False)
    kinds = {**train_byte_level(corpus), **train_others(corpus)}
    for name, tok in kinds.items():
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        tok.save(os.path.join(folder, "tokenizer.json"))
        tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))  # as the C++ side reads it
        ids = {"plain": [tok.encode(t, add_special_tokens=False).ids for t in TEXTS],
               "special": [tok.encode(t, add_special_tokens=True).ids for t in TEXTS]}
        with open(os.path.join(folder, "ids.json"), "w") as f:
            json.dump(ids, f)
    print(f"made {len(kinds)} tokenizers in {out}")


if __name__ == "__main__":
    main(sys.argv[1])
