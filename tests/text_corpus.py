"""Synthetic pretraining text (one sentence per line, blank line between documents).

Words are made of syllables, so a small SentencePiece model splits many of them into
several pieces and whole-word masking has continuation pieces to group.
"""

import numpy as np

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "du", "ran", "tel", "qua",
             "bor", "fin", "ex", "zu", "gli"]


def write_corpus(path, documents: int, seed: int = 0, sentences=(3, 15), words=(4, 18),
                 titled: bool = False) -> str:
    """With `titled`, every document opens with a title drawn from its own small vocabulary:
    text with a sentence-order signal (where a document starts) that SOP can learn."""
    rng = np.random.default_rng(seed)
    vocabulary = ["".join(rng.choice(SYLLABLES, rng.integers(1, 5))) for _ in range(800)]
    title_words = ["title", "chapter", "part", "section", "book", "volume"]
    lines = []
    for _ in range(documents):
        if titled:
            lines.append(" ".join(rng.choice(title_words, rng.integers(*words))).capitalize())
        for _ in range(rng.integers(*sentences)):
            sentence = " ".join(rng.choice(vocabulary, rng.integers(*words)))
            lines.append(sentence.capitalize() + ".")
        lines.append("")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    return str(path)
