"""Pretraining text: reading documents, tokenizing them once into a compact on-disk cache.

Input format (the original's): one sentence per line, a blank line between documents.
Reading streams one document at a time. Lines that are not UTF-8 are skipped and
counted (the log names the file and line). The token cache holds a file's token ids as
flat int32 arrays read back through `np.memmap`, so the dupe_factor passes over a file
neither re-tokenize it nor hold it in memory.
"""

import dataclasses
import os
from typing import Iterator, List, Sequence

import numpy as np
from absl import logging

from albert_tf.data.text_files import read_lines
from albert_tf.data.tokenization import AlbertTokenizer


@dataclasses.dataclass
class CorpusStats:
    """Counters over the input text (summed over files)."""

    files: int = 0
    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    invalid_utf8_lines: int = 0
    empty_files: int = 0
    single_sentence_documents: int = 0  # skipped in SOP mode: no sentence order to predict
    long_sentences_split: int = 0

    def add(self, other: "CorpusStats") -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def read_documents(path: str, stats: CorpusStats) -> Iterator[List[str]]:
    """Yields each document of a text file as its list of non-blank stripped lines."""
    document: List[str] = []

    def count_invalid(_):
        stats.invalid_utf8_lines += 1

    for _, line in read_lines(path, count_invalid):
        line = line.strip()
        if line:
            document.append(line)
        elif document:
            yield document
            document = []
    if document:
        yield document


def split_long_sentence(tokens: Sequence[int], max_length: int) -> List[Sequence[int]]:
    """Cuts a sentence into near-equal consecutive pieces of at most `max_length` tokens.

    >>> split_long_sentence(list(range(7)), 3)
    [[0, 1], [2, 3], [4, 5, 6]]
    """
    pieces = -(-len(tokens) // max_length)
    bounds = [i * len(tokens) // pieces for i in range(pieces + 1)]
    return [tokens[begin:end] for begin, end in zip(bounds[:-1], bounds[1:])]


class TokenCache:
    """A tokenized file on disk: `tokens` (int32), `sentence_ends` and `document_ends`
    (int64 cumulative counts), each a flat binary file under `directory`."""

    FILES = ("tokens", "sentence_ends", "document_ends")

    def __init__(self, directory: str):
        self.directory = directory
        arrays = []
        for name, dtype in zip(self.FILES, (np.int32, np.int64, np.int64)):
            path = os.path.join(directory, name + ".bin")
            if os.path.getsize(path) == 0:
                arrays.append(np.zeros(0, dtype))
            else:
                arrays.append(np.memmap(path, dtype=dtype, mode="r"))
        self.tokens, self.sentence_ends, self.document_ends = arrays

    def __len__(self) -> int:
        return len(self.document_ends)

    def document(self, index: int) -> List[List[int]]:
        """The sentences of document `index`, as lists of ids."""
        first = int(self.document_ends[index - 1]) if index else 0
        last = int(self.document_ends[index])
        ends = self.sentence_ends[first:last].tolist()
        begin = int(self.sentence_ends[first - 1]) if first else 0
        flat = self.tokens[begin:ends[-1]].tolist() if ends else []
        sentences, start = [], 0
        for end in ends:
            sentences.append(flat[start:end - begin])
            start = end - begin
        return sentences


class DocumentsExcept(Sequence):
    """The documents of a cache other than one (NSP draws its random B from them)."""

    def __init__(self, cache: TokenCache, excluded: int):
        self.cache, self.excluded = cache, excluded

    def __len__(self) -> int:
        return len(self.cache) - 1

    def __getitem__(self, index: int) -> List[List[int]]:
        return self.cache.document(index + (index >= self.excluded))


def tokenize_file(path: str, tokenizer: AlbertTokenizer, directory: str,
                  max_sentence_length: int, min_sentences: int) -> CorpusStats:
    """Tokenizes a text file into a TokenCache under `directory`.

    Sentences longer than `max_sentence_length` tokens are split (and counted), so that
    they can still take part in a pair; documents with fewer than `min_sentences`
    sentences are skipped (and counted).
    """
    stats = CorpusStats(files=1)
    os.makedirs(directory, exist_ok=True)
    handles = [open(os.path.join(directory, name + ".bin"), "wb") for name in TokenCache.FILES]
    tokens_out, sentences_out, documents_out = handles
    total_tokens, total_sentences, seen_documents = 0, 0, 0
    try:
        for lines in read_documents(path, stats):
            seen_documents += 1
            sentences: List[Sequence[int]] = []
            for ids in tokenizer.encode_batch(lines):
                if len(ids) > max_sentence_length:
                    stats.long_sentences_split += 1
                    sentences.extend(split_long_sentence(ids, max_sentence_length))
                elif ids:
                    sentences.append(ids)
            if len(sentences) < min_sentences:
                stats.single_sentence_documents += len(sentences) == 1
                continue
            lengths = np.array([len(s) for s in sentences], np.int64)
            tokens_out.write(np.concatenate(sentences).astype(np.int32).tobytes())
            sentences_out.write((total_tokens + np.cumsum(lengths)).tobytes())
            total_tokens += int(lengths.sum())
            total_sentences += len(sentences)
            documents_out.write(np.int64(total_sentences).tobytes())
            stats.documents += 1
    finally:
        for handle in handles:
            handle.close()
    stats.sentences, stats.tokens = total_sentences, total_tokens
    stats.empty_files = int(seen_documents == 0)
    return stats

