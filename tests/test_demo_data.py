"""The demo's corpus extraction and its derived continuation task."""

import csv
import os

import pytest

from albert_tf.experiments import continuation_task
from albert_tf.experiments.corpus import (CorpusError, prose_sentences, python_docs_documents,
                                   read_corpus, split_documents, write_corpus)


def test_prose_sentences_drop_headings_code_doctests_and_tables():
    text = ("The \"while\" statement\n"
            "***********************\n"
            "\n"
            "The \"while\" statement is used for repeated execution as long as an\n"
            "expression is true:\n"
            "\n"
            "   while_stmt ::= \"while\" assignment_expression \":\" suite\n"
            "\n"
            ">>> while False: pass\n"
            "| column | column |\n"
            "* A list item that wraps\n"
            "  onto an indented line is a code line here. Next one.\n"
            "This repeatedly tests the expression. If it is false, the loop ends.\n")
    assert prose_sentences(text) == [
        'The "while" statement is used for repeated execution as long as an expression '
        'is true:',
        "A list item that wraps",  # its indented continuation reads as code: dropped
        "This repeatedly tests the expression.",
        "If it is false, the loop ends.",
    ]


def test_bundled_documentation_is_a_real_corpus():
    documents = python_docs_documents()
    sentences = [s for document in documents for s in document]
    assert len(documents) > 100 and len(sentences) > 5000
    assert all(len(document) >= 2 for document in documents)
    assert all(s.strip() == s and "\n" not in s and len(s.split()) >= 3 for s in sentences)
    assert not any(s.startswith((">>>", "|")) for s in sentences)
    assert any("statement" in s for s in sentences)


def test_corpus_round_trip_and_document_split(tmp_path):
    documents = [[f"Document {d} sentence {s} here." for s in range(d % 3 + 2)]
                 for d in range(20)]
    path = str(tmp_path / "corpus.txt")
    write_corpus(documents, path)
    assert read_corpus(path) == documents
    kept, heldout = split_documents(documents, 0.1, seed=3, source=path)
    assert len(heldout) == 2 and len(kept) == 18
    assert sorted(map(tuple, kept + heldout)) == sorted(map(tuple, documents))
    assert split_documents(documents, 0.1, seed=3, source=path) == (kept, heldout)
    with pytest.raises(CorpusError, match=r"corpus\.txt: 1 document\(s\); the demo needs at "
                                          r"least 2"):
        split_documents(documents[:1], 0.1, seed=3, source=path)


def test_continuation_examples_pair_true_and_foreign_sentences():
    documents = [[f"d{d} s{s}" for s in range(6)] for d in range(5)]
    examples = continuation_task.continuation_examples(documents, seed=1)
    assert len(examples) == 5 * 5  # one per consecutive pair
    labels = [label for _, _, label in examples]
    assert 0.25 < labels.count("continues") / len(labels) < 0.75
    for first, second, label in examples:
        doc_a, index_a = first.split()
        doc_b, index_b = second.split()
        if label == "continues":
            assert doc_b == doc_a and int(index_b[1:]) == int(index_a[1:]) + 1
        else:
            assert doc_b != doc_a


def test_task_files_split_by_document_and_read_by_run_classifier(tmp_path):
    from albert_tf.data.glue import custom_task, read_examples

    documents = [[f"Topic {d} says thing {s}.\tTabbed" for s in range(4)] for d in range(30)]
    counts = continuation_task.write_continuation_task(documents, str(tmp_path), seed=5)
    assert sum(counts.values()) == 30 * 3 and counts["dev"] == counts["test"] == 3 * 3
    first_sentences = {}
    for split in continuation_task.SPLITS:
        with open(tmp_path / f"{split}.tsv", encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
        assert rows[0] == list(continuation_task.COLUMNS)
        assert len(rows) - 1 == counts[split] and all(len(row) == 4 for row in rows)
        first_sentences[split] = {row[1].split(" says")[0] for row in rows[1:]}
    assert not first_sentences["train"] & first_sentences["dev"]
    assert not first_sentences["dev"] & first_sentences["test"]

    task = custom_task(str(tmp_path), "sentence_a", "sentence_b", "label", regression=False,
                       labels=list(continuation_task.LABELS))
    dev = read_examples(task, task.path(str(tmp_path), "dev"), "dev")
    assert len(dev) == counts["dev"] and {e.label for e in dev} <= set(task.labels)
    assert "\t" not in dev[0].text_a


def test_too_few_documents_for_three_splits_is_named(tmp_path):
    documents = [["One sentence here.", "Another one here."]] * 4
    with pytest.raises(CorpusError, match="continuation task needs at least 2 documents in "
                                          "each of train, dev and test"):
        continuation_task.write_continuation_task(documents, str(tmp_path), seed=1,
                                                  source="my.txt")
    assert not os.listdir(tmp_path)
