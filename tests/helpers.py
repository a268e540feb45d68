"""Values and helpers several test modules share (tests never import other test files)."""

import os

from albert_tf.export.saved_model import load_serving_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
GLUE_DIR = os.path.join(SHARED_DATA, "glue")

# Accents, ligatures, full-width forms, several scripts, emoji with joiners and modifiers,
# odd whitespace, LaTeX quotes, Turkish and German casing, final sigma.
UNICODE_TEXTS = [
    "  Ça  ``marche''\tbien, naïve café ",
    "Straße İstanbul ÅNGSTRÖM Ærøskøbing",
    "ﬁne ｆｕｌｌ　width ①② ½ ™",
    "नमस्ते दुनिया, हिन्दी पाठ",
    "مرحبا بالعالم",
    "日本語のテキスト、カタカナとひらがな。中文句子",
    "한국어 문장입니다",
    "emoji 🤖👍🏽 family 👨‍👩‍👧 flags 🇫🇷",
    "tab\tnl\nvt\x0bff\x0c\x1c\x1d nbsp\xa0x\u2028y\u0085z\u3000w",
    "ΑΒΓ Ωmega ΣΣ ǅ ǈ Ǆemo",
    "a\u0301\u0302 o\u0308 e\u0327",
    "Ελληνικά κείμενα και русский текст ёжик",
    "",
    "   ",
    # Control characters: the graph path used to end a text at its first NUL.
    "NUL\x00Inside Text\x00 And After",
    "\x00",
    "ctl \x01\x02\x7f\x80\x9f BEL\x07 Ü\x00Ä \x1b[0m",
    "zero width \u200b\u200d\ufeff Joiners \u00ad",
]

# The classifier and encoder the export and serving tests share (the `assets` fixture).
SEQ = 24
LABELS = ["contradiction", "entailment", "neutral"]


def load_exported(assets, num_outputs):
    """The serving model of the `assets` classifier (num_outputs > 0) or encoder (0)."""
    folder, _, config = assets
    name = "classifier/model" if num_outputs else "encoder/encoder"
    return load_serving_model(config, str(folder / name), num_outputs)


def parameter_formula(config):
    """Parameter counts per component, written from the paper's architecture."""
    V, E, H = config.vocab_size, config.embedding_size, config.hidden_size
    inner, P, T = config.intermediate_size, config.max_position_embeddings, config.type_vocab_size
    L, G, K = config.num_hidden_layers, config.num_hidden_groups, config.inner_group_num
    attention = 4 * (H * H + H) + 2 * H  # q, k, v, output + LayerNorm
    ffn = (H * inner + inner) + (inner * H + H) + 2 * H
    n_attention = G * K if config.sharing in ("all", "attention") else L * K
    n_ffn = G * K if config.sharing in ("all", "ffn") else L * K
    return {
        "embedding": V * E + P * E + T * E + 2 * E,
        "projection": E * H + H if E != H else 0,
        "transformer": n_attention * attention + n_ffn * ffn,
        "pooler": H * H + H,
        "mlm_head": H * E + E + 2 * E + V,  # output matrix tied to the word embeddings
        "sop_head": 2 * H + 2,
    }
