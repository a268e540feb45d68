"""The demo's fine-tuning task, derived from any corpus: does sentence B continue A?

For every pair of consecutive sentences (A, B) of a document, a seeded coin keeps B
(label `continues`) or replaces it with a sentence drawn from another document of the
same split (label `unrelated`). Documents, never sentences, are split between train, dev
and test, so no sentence of dev or test is seen in fine-tuning. The files are what
`run_classifier.py --task_name=custom` reads: `train.tsv`, `dev.tsv`, `test.tsv` with
the header `index, sentence_a, sentence_b, label`.
"""

import os
import random
from typing import Dict, List, Sequence, Tuple

from albert_tf.experiments.corpus import CorpusError, Document, split_documents
from albert_tf.io_utils import write_atomically

LABELS = ("unrelated", "continues")
COLUMNS = ("index", "sentence_a", "sentence_b", "label")
SPLITS = ("train", "dev", "test")

Example = Tuple[str, str, str]  # (sentence_a, sentence_b, label)


def continuation_examples(documents: Sequence[Document], seed: int) -> List[Example]:
    """One example per consecutive sentence pair: half (by a seeded coin) keep the true
    next sentence, the rest take a random sentence of a different document."""
    if len(documents) < 2:
        raise CorpusError("the continuation task needs at least 2 documents per split")
    rng = random.Random(seed)
    examples = []
    for doc_index, document in enumerate(documents):
        for first, second in zip(document, document[1:]):
            if rng.random() < 0.5:
                examples.append((first, second, LABELS[1]))
                continue
            other = rng.randrange(len(documents) - 1)
            other += other >= doc_index  # any document but this one
            examples.append((first, rng.choice(documents[other]), LABELS[0]))
    return examples


def split_task_documents(documents: Sequence[Document], seed: int,
                         heldout_fraction: float = 0.1,
                         source: str = "corpus") -> Dict[str, List[Document]]:
    """Train, dev and test documents (dev and test each get `heldout_fraction`); an error
    names `source` when a split would hold fewer than 2 documents."""
    rest, test = split_documents(documents, heldout_fraction, seed, source)
    train, dev = split_documents(rest, heldout_fraction / (1 - heldout_fraction), seed + 1,
                                 source)
    splits = dict(zip(SPLITS, (train, dev, test)))
    for split, members in splits.items():
        if len(members) < 2:
            raise CorpusError(f"{source}: {len(documents)} documents leave {split} with "
                              f"{len(members)}; the continuation task needs at least 2 "
                              f"documents in each of train, dev and test")
    return splits


def write_continuation_task(documents: Sequence[Document], output_dir: str, seed: int,
                            heldout_fraction: float = 0.1,
                            source: str = "corpus") -> Dict[str, int]:
    """Writes train/dev/test TSV files (see `split_task_documents`); returns the number of
    examples per split."""
    splits = split_task_documents(documents, seed, heldout_fraction, source)
    counts = {}
    for offset, (split, members) in enumerate(splits.items()):
        examples = continuation_examples(members, seed + 10 + offset)
        rows = ["\t".join(COLUMNS)] + [
            "\t".join((str(index), *(_one_line(text) for text in example)))
            for index, example in enumerate(examples)]
        write_atomically(os.path.join(output_dir, f"{split}.tsv"),
                         ("\n".join(rows) + "\n").encode("utf-8"))
        counts[split] = len(examples)
    return counts


def classifier_flags() -> Dict[str, str]:
    """`run_classifier.py`'s task flags for the files `write_continuation_task` writes
    (`--data_dir` aside)."""
    return {"task_name": "custom", "text_a_column": COLUMNS[1], "text_b_column": COLUMNS[2],
            "label_column": COLUMNS[3], "labels": ",".join(LABELS)}


def _one_line(text: str) -> str:
    return " ".join(text.split())  # a TSV field holds no tab or newline
