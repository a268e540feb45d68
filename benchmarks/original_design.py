"""A re-implementation of the original create_pretraining_data's *design*, as a baseline.

Written for this benchmark from the original tool's documented behaviour, not copied:
one process; the whole corpus is read and tokenized into piece strings held in memory;
every dupe pass cuts each document into SOP pairs of strings; masking works on strings
(word starts found by testing the "▁" prefix per token, every n-gram of every candidate
word listed up front, each length drawn with `np.random.choice`); all instances are kept,
shuffled, converted to ids through a dict and written one `tf.train.Example` at a time.
Its statistics (instances, masked tokens) are comparable with albert_tf's output.
"""

import collections
import random

import numpy as np
import tensorflow as tf

from albert_tf.data.tokenization import AlbertTokenizer

Instance = collections.namedtuple("Instance", "tokens segment_ids label positions labels")


def _read_corpus(paths, tokenizer):
    documents = [[]]
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    documents.append([])
                    continue
                pieces = tokenizer.tokenize(line)
                if pieces:
                    documents[-1].append(pieces)
    return [d for d in documents if d]


def _pairs(document, max_seq_length, short_seq_prob, rng):
    max_tokens = max_seq_length - 3
    target = rng.randint(2, max_tokens) if rng.random() < short_seq_prob else max_tokens
    chunk, length, index = [], 0, 0
    while index < len(document):
        chunk.append(document[index])
        length += len(document[index])
        if index == len(document) - 1 or length >= target:
            if len(chunk) >= 2:
                cut = rng.randint(1, len(chunk) - 1)
                a = [t for s in chunk[:cut] for t in s]
                b = [t for s in chunk[cut:] for t in s]
                label = int(rng.random() < 0.5)
                if label:
                    a, b = b, a
                while len(a) + len(b) > max_tokens:
                    longer = a if len(a) > len(b) else b
                    if rng.random() < 0.5:
                        del longer[0]
                    else:
                        longer.pop()
                yield a, b, label
            chunk, length = [], 0
            target = rng.randint(2, max_tokens) if rng.random() < short_seq_prob else max_tokens
        index += 1


def _mask(tokens, masked_lm_prob, max_predictions, max_ngram, vocab_words, rng):
    candidates = []
    for i, token in enumerate(tokens):
        if token in ("[CLS]", "[SEP]"):
            continue
        if candidates and not token.startswith("\u2581") and candidates[-1][-1] == i - 1:
            candidates[-1].append(i)
        else:
            candidates.append([i])
    output = list(tokens)
    num_to_predict = min(max_predictions, max(1, int(round(len(tokens) * masked_lm_prob))))
    ngrams = np.arange(1, max_ngram + 1)
    pvals = 1.0 / ngrams
    pvals /= pvals.sum()
    ngram_indexes = []
    for start in range(len(candidates)):
        ngram_indexes.append([candidates[start:start + n] for n in ngrams
                              if start + n <= len(candidates)])
    rng.shuffle(ngram_indexes)
    covered, masked = set(), []
    for spans in ngram_indexes:
        if len(masked) >= num_to_predict:
            break
        if not spans:
            continue
        n = np.random.choice(ngrams[:len(spans)],
                             p=pvals[:len(spans)] / pvals[:len(spans)].sum())
        chosen = sum(spans[n - 1], [])
        while len(masked) + len(chosen) > num_to_predict and n > 1:
            n -= 1
            chosen = sum(spans[n - 1], [])
        if len(masked) + len(chosen) > num_to_predict or covered.intersection(chosen):
            continue
        for index in chosen:
            covered.add(index)
            draw = rng.random()
            if draw < 0.8:
                output[index] = "[MASK]"
            elif draw >= 0.9:
                output[index] = vocab_words[rng.randint(5, len(vocab_words) - 1)]
            masked.append((index, tokens[index]))
    masked.sort()
    return output, [i for i, _ in masked], [t for _, t in masked]


def _int_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def run(input_files, output_file, spm_model_file, max_seq_length=512, max_predictions=20,
        dupe_factor=40, masked_lm_prob=0.15, short_seq_prob=0.1, ngram=3, seed=12345):
    """Writes one TFRecord file; returns (instances, masked tokens, real tokens)."""
    tokenizer = AlbertTokenizer(spm_model_file)
    vocab_words = [tokenizer.id_to_piece(i) for i in range(tokenizer.vocab_size)]
    vocab = {piece: i for i, piece in enumerate(vocab_words)}
    rng = random.Random(seed)
    documents = _read_corpus(input_files, tokenizer)
    instances = []
    for _ in range(dupe_factor):
        for document in documents:
            for a, b, label in _pairs(document, max_seq_length, short_seq_prob, rng):
                tokens = ["[CLS]"] + a + ["[SEP]"] + b + ["[SEP]"]
                segment_ids = [0] * (len(a) + 2) + [1] * (len(b) + 1)
                tokens, positions, labels = _mask(tokens, masked_lm_prob, max_predictions,
                                                  ngram, vocab_words, rng)
                instances.append(Instance(tokens, segment_ids, label, positions, labels))
    rng.shuffle(instances)
    masked = real = 0
    with tf.io.TFRecordWriter(output_file) as writer:
        for instance in instances:
            ids = [vocab[t] for t in instance.tokens]
            pad = max_seq_length - len(ids)
            spare = max_predictions - len(instance.positions)
            features = collections.OrderedDict()
            features["input_ids"] = _int_feature(ids + [0] * pad)
            features["input_mask"] = _int_feature([1] * len(ids) + [0] * pad)
            features["segment_ids"] = _int_feature(instance.segment_ids + [0] * pad)
            features["token_boundary"] = _int_feature(
                [int(t.startswith("\u2581") or t in ("[CLS]", "[SEP]")) for t in instance.tokens]
                + [0] * pad)
            features["masked_lm_positions"] = _int_feature(instance.positions + [0] * spare)
            features["masked_lm_ids"] = _int_feature(
                [vocab[t] for t in instance.labels] + [0] * spare)
            features["masked_lm_weights"] = tf.train.Feature(float_list=tf.train.FloatList(
                value=[1.0] * len(instance.positions) + [0.0] * spare))
            features["next_sentence_labels"] = _int_feature([instance.label])
            writer.write(tf.train.Example(features=tf.train.Features(feature=features))
                         .SerializeToString())
            masked += len(instance.positions)
            real += len(ids)
    return len(instances), masked, real
