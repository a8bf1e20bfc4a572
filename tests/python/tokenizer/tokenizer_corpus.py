"""Deterministic test corpus and tokenizer set for the tokenizer parity tests and benchmark.

make_corpus(n, seed) builds n strings from a seeded generator: ASCII prose, many scripts,
emoji (with ZWJ sequences, skin tones, flags), combining marks, code, runs of spaces, tabs and
newlines, digits, Unicode whitespace, special-token strings and near misses, and mixtures.

build_tokenizers(out_dir, corpus) returns {name: model_dir} for every tokenizer under
../shared/data, plus tokenizers trained here with the `tokenizers` library so that the
components the shared files do not use are exercised too:
  qwen2      Split(Qwen2 regex) + ByteLevel + NFC, byte-level BPE, added tokens
  llama3     Split(Llama-3 regex) + ByteLevel, ignore_merges, BOS template
  metaspace  the Llama-2 vocabulary with Metaspace(prepend_scheme="first") instead of the
             legacy normalizer, plus added tokens with lstrip/rstrip/single_word/normalized
  words      the stories260K vocabulary behind WhitespaceSplit + Metaspace(split, "always")
  mixed      NFKC + Lowercase + Strip; Digits, literal and regex Splits with every behaviour,
             CharDelimiterSplit and ByteLevel(add_prefix_space); Roberta-style post-processing
"""

import json
import os
import random
import shutil
import unicodedata
from pathlib import Path

QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

SPECIAL_STRINGS = [
    "<s>", "</s>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool>",
    "<|begin_of_text|>", "<|eot_id|>", "<pad>", "<s", "</s >", "<|endoftext", "<|im_start|",
    "[INST]", "<<SYS>>", "<0x41>", "▁", "▁▁", "Ġ", "hello world", "Hello World",
]

WORDS = (
    "the of and to in is was he for it with as his on be at by had are but from or have an they "
    "which one you were her all she there would their we him been has when who will more no if "
    "out so said what up its about into than them can only other new some could time these two "
    "may then do first any my now such like our over man me even most made after also did many "
    "before must through back years where much your way well down should because each just those "
    "people Mr how too little state good very make world still own see men work long get here "
    "between both life being under never day same another know while last might us great old "
    "year off come since against go came right used take three tokenizer Tokenization GPU CUDA "
    "don't can't won't it's I'm you're we've they'll she'd O'Neil DON'T IT'S Y'ALL"
).split()

SCRIPTS = {
    "latin": "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßœšžčćđłńśźżőűĀāĂăĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚě",
    "cyrillic": "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯіїєґ",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩάέήίόύώϊϋΐΰς",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأؤإئةى٠١٢٣٤٥٦٧٨٩",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשתךםןףץ",
    "devanagari": "अआइईउऊऋएऐओऔकखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह्ािीुूृेैोौंः०१२३४५६७८९",
    "thai": "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮะัาำิีึืุู็่้๊๋์๐๑๒",
    "khmer": "កខគឃងចឆជឈញដឋឌឍណតថទធនបផពភមយរលវសហឡអាិីឹឺុូួើឿៀេែៃោៅំះ្",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么",
    "hangul": "가나다라마바사아자차카타파하한국어대한민국서울부산안녕하세요감사합니다",
    "kana": "あいうえおかきくけこさしすせそたちつてとなにぬねのアイウエオカキクケコサシスセソーッャュョ",
    "ethiopic": "ሀለሐመሠረሰሸቀበተቸኀነኘአከኸወዐዘዠየደጀገጠጨጰጸፀፈፐ",
    "math": "∀∂∃∅∇∈∉∋∏∑−∓∗√∝∞∠∧∨∩∪∫≈≠≡≤≥⊂⊃⊆⊇⊕⊗⊥⋅ℕℤℚℝℂ",
    "symbols": "€£¥¢©®™°±×÷§¶†‡•…‰′″‹›«»“”‘’„‚–—―¿¡½¼¾¹²³⁴⁵ⁿ№℃Ωµ",
    "fullwidth": "ＡＢＣＤＥａｂｃｄｅ０１２３４５！？（）［］｛｝：；，．",
}

EMOJI = [
    "😀", "😂", "🦙", "🚀", "✅", "❤️", "👍🏽", "👨‍👩‍👧‍👦", "😶‍🌫️", "🏳️‍🌈", "🇫🇷", "🇯🇵", "🤖",
    "🔥", "✨", "🎉", "👩🏿‍💻", "☕", "⚡", "🧑‍🚀", "🙂", "🥲", "🫠", "1️⃣", "#️⃣", "©️",
]

COMBINING = ["\u0301", "\u0300", "\u0308", "\u0327", "\u0303", "\u030c", "\u0323", "\u20dd", "\u0336"]

WHITESPACE = [
    " ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n", "\n ", " \t ", "\u00a0",
    "\u2003", "\u3000", "\u0085", "\u2028", "\u180e", "\u200b", "\ufeff", "\x0b", "\x0c",
]

CODE = [
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
    '{"key": [1, 2.5, -3e10], "nested": {"ok": true, "s": "a\\"b"}}',
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "if x != None and y <= 3:\n\t\tpass\n\n\n",
    "#include <vector>\nstd::vector<int> v{1,2,3};",
    "const add = (a, b) => a + b; // arrow\nconsole.log(add(1, 2));",
    "<div class=\"x\">Hello&nbsp;<b>world</b></div>",
    "$ ls -la | grep '.py' && echo \"done\"",
    "    indented\n        more\n\t\tmixed  \t  ",
]


def _words(rng, count):
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _script_text(rng, script):
    alphabet = SCRIPTS[script]
    words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
             for _ in range(rng.randint(1, 6))]
    separator = "" if script in ("cjk", "kana", "thai", "khmer") and rng.random() < 0.5 else " "
    return separator.join(words)


def _number(rng):
    kind = rng.randrange(5)
    if kind == 0:
        return str(rng.randrange(10 ** rng.randint(1, 12)))
    if kind == 1:
        return f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 6)}f}"
    if kind == 2:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(10, 40)))
    if kind == 3:
        return f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(1900, 2100)}"
    return rng.choice(["٣٤٥", "१२३", "①②③", "Ⅻ", "²³", "½", "１２３", "๑๒๓"])


def assigned_before_unicode_15(char):
    """Whether `char` is assigned in Unicode 14 (Python 3.11's tables), or is one of a few
    never-assigned code points. The C++ side classifies characters with PCRE2 (Unicode 14) and
    utf8proc (Unicode 15) tables, the reference with Unicode 16 ones; characters assigned since
    are a documented difference, so generated text keeps to the ones all three agree on."""
    return unicodedata.category(char) != "Cn" or char in UNASSIGNED_EVERYWHERE


UNASSIGNED_EVERYWHERE = {"͸", "￾", "￿", "􏿿", "󠀀"}


def _random_codepoints(rng):
    out = []
    while len(out) < rng.randint(1, 12):
        block = rng.choice([(0x20, 0x7F), (0xA0, 0x250), (0x370, 0x530), (0x590, 0x700),
                            (0x900, 0xDFF), (0x1100, 0x11FF), (0x2000, 0x2BFF),
                            (0x3000, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3),
                            (0xF900, 0xFFEF), (0x1F300, 0x1FAFF), (0x0, 0x20)])
        char = chr(rng.randrange(*block))
        if assigned_before_unicode_15(char):
            out.append(char)
    out.append(rng.choice(sorted(UNASSIGNED_EVERYWHERE)) if rng.random() < 0.1 else "")
    return "".join(out)


def _one(rng):
    kind = rng.randrange(14)
    if kind == 0:
        text = _words(rng, rng.randint(1, 30))
        return text[0].upper() + text[1:] + rng.choice([".", "!", "?", "", "..."])
    if kind == 1:
        return _script_text(rng, rng.choice(list(SCRIPTS)))
    if kind == 2:
        return "".join(rng.choice(EMOJI + [" ", "a", "!"]) for _ in range(rng.randint(1, 8)))
    if kind == 3:
        base = rng.choice("aeiouAEIOUnczsyαиå")
        return "".join(base + "".join(rng.choice(COMBINING) for _ in range(rng.randint(1, 3)))
                       for _ in range(rng.randint(1, 5)))
    if kind == 4:
        return rng.choice(CODE)
    if kind == 5:
        return "".join(rng.choice(WHITESPACE + ["x", "yz", "."]) for _ in range(rng.randint(1, 12)))
    if kind == 6:
        return " ".join(_number(rng) for _ in range(rng.randint(1, 4)))
    if kind == 7:
        parts = [rng.choice(SPECIAL_STRINGS), _words(rng, rng.randint(0, 4))]
        rng.shuffle(parts)
        return rng.choice(["", " ", "  ", "\n"]).join(parts) + rng.choice(["", " ", "\n", "x"])
    if kind == 8:
        return _random_codepoints(rng)
    if kind == 9:
        return rng.choice(WHITESPACE) * rng.randint(1, 40) + _words(rng, 2)
    if kind == 10:
        return "".join(rng.choice(["'s", "'S", "'t", "'re", "'VE", "'m", "'ll", "'d", "'x", "’s"])
                       + rng.choice(["", " ", "a"]) for _ in range(rng.randint(1, 5)))
    if kind == 11:
        return "".join(_one(rng) + rng.choice(WHITESPACE) for _ in range(rng.randint(2, 5)))
    if kind == 12:
        if rng.random() < 0.3:  # one long unbroken word (base64-like): long merge sequences
            return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")
                           for _ in range(rng.randint(30, 400)))
        return rng.choice(["", " ", "a", "\n", "<", ">", "|", "▁", "Ġ", "\u0301", "é"])
    return _words(rng, 60) + " " + _script_text(rng, rng.choice(list(SCRIPTS))) * 3


def make_corpus(count=5200, seed=20240607):
    """`count` strings; the same every run for the same seed."""
    rng = random.Random(seed)
    corpus = [_one(rng) for _ in range(count)]
    # A few long inputs exercise the long-word merge path (no pre-tokenizer in Llama-2 style).
    corpus += ["".join(_one(rng) for _ in range(60)) for _ in range(8)]
    return corpus


def _save(tokenizer, out_dir, name, config=None):
    model_dir = Path(out_dir) / name
    model_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(model_dir / "tokenizer.json"))
    if config is not None:
        (model_dir / "tokenizer_config.json").write_text(json.dumps(config))
    return str(model_dir)


def _train_byte_level(corpus, pattern, vocab_size, special_tokens):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    return tokenizer


def build_tokenizers(out_dir, corpus, shared_data):
    """{name: model_dir} of every tokenizer the parity tests compare."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers import processors

    shared = Path(shared_data)
    dirs = {
        "gpt2": str(shared / "tokenizers" / "gpt2"),
        "llama-spm": str(shared / "tokenizers" / "llama-spm"),
        "stories260k": str(shared / "stories260k"),
    }
    training_text = corpus[: len(corpus) // 2]

    qwen2 = _train_byte_level(training_text, QWEN2_PATTERN, 3000,
                              ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    qwen2.add_tokens([AddedToken("<tool>", lstrip=True, rstrip=True, normalized=False)])
    dirs["qwen2"] = _save(qwen2, out_dir, "qwen2",
                          {"bos_token": None, "eos_token": "<|im_end|>"})

    llama3 = _train_byte_level(training_text, LLAMA3_PATTERN, 2500,
                               ["<|begin_of_text|>", "<|eot_id|>"])
    llama3.normalizer = None
    llama3.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 0)])
    spec = json.loads(llama3.to_str())
    spec["model"]["ignore_merges"] = True
    llama3 = Tokenizer.from_str(json.dumps(spec))
    dirs["llama3"] = _save(llama3, out_dir, "llama3",
                           {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})

    metaspace = Tokenizer.from_file(str(shared / "tokenizers" / "llama-spm" / "tokenizer.json"))
    metaspace.normalizer = None
    metaspace.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first",
                                                       split=False)
    metaspace.decoder = decoders.Sequence([
        decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False),
        decoders.ByteFallback(), decoders.Fuse()])
    metaspace.add_tokens([
        AddedToken("[INST]", lstrip=True, rstrip=False, normalized=False),
        AddedToken("<<SYS>>", rstrip=True, normalized=False, special=True),
        AddedToken("hello world", single_word=True, normalized=True),
    ])
    dirs["metaspace"] = _save(metaspace, out_dir, "metaspace",
                              {"bos_token": "<s>", "eos_token": "</s>"})

    split_words = Tokenizer.from_file(str(shared / "stories260k" / "tokenizer.json"))
    split_words.normalizer = None
    split_words.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
    ])
    split_words.decoder = decoders.Sequence([
        decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
        decoders.Strip(" ", 1, 0)])
    dirs["words"] = _save(split_words, out_dir, "words")

    mixed = Tokenizer.from_file(os.path.join(dirs["qwen2"], "tokenizer.json"))
    mixed.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])
    mixed.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Split("-", behavior="merged_with_next"),
        pre_tokenizers.Split(Regex(r"[.,;]"), behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"[aeiou]+"), behavior="contiguous", invert=True),
        pre_tokenizers.Split(Regex(r"\n"), behavior="removed"),
        pre_tokenizers.CharDelimiterSplit("|"),
        pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True),
    ])
    bos, eos = mixed.token_to_id("<|im_start|>"), mixed.token_to_id("<|im_end|>")
    mixed.post_processor = processors.RobertaProcessing(("<|im_end|>", eos),
                                                        ("<|im_start|>", bos))
    mixed.add_tokens([AddedToken("Hello World", normalized=True)])
    dirs["mixed"] = _save(mixed, out_dir, "mixed")
    return dirs


def copy_sentencepiece_only(out_dir, shared_data):
    """A model directory holding only Llama-2's tokenizer.model (and its config)."""
    model_dir = Path(out_dir) / "spm-only"
    model_dir.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(Path(shared_data) / "tokenizers" / "llama-spm" / name, model_dir / name)
    return str(model_dir)
