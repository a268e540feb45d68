"""Pretraining text: reading documents, tokenizing them once into a compact on-disk cache.

Input format (the original's): one sentence per line, a blank line between documents.
Reading streams one document at a time. Lines that are not UTF-8 are skipped and
counted (the log names the file and line). A large file is tokenized in parallel by
byte ranges that start after a blank line (`document_ranges`), so every range holds
whole documents and the ranges together hold the file's documents in order. Each range
becomes a token cache: flat int32 token ids read back through `np.memmap`, so the
dupe_factor passes over a file neither re-tokenize it nor hold it in memory.
"""

import dataclasses
import os
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from albert_tf.data.text_files import read_lines
from albert_tf.data.word_segmentation import token_boundary_of


@dataclasses.dataclass
class CorpusStats:
    """Counters over the input text (summed over files)."""

    files: int = 0
    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    invalid_utf8_lines: int = 0
    empty_files: int = 0
    single_sentence_documents: int = 0  # kept unless single-sentence chunks are skipped
    long_sentences_split: int = 0
    long_sentence_cuts_inside_words: int = 0  # a single word longer than the limit

    def add(self, other: "CorpusStats") -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def read_documents(path: str, stats: CorpusStats,
                   byte_range: Optional[Tuple[int, int]] = None) -> Iterator[List[str]]:
    """Yields each document of a text file (or of a `byte_range` from `document_ranges`)
    as its list of non-blank stripped lines."""
    document: List[str] = []

    def count_invalid(_):
        stats.invalid_utf8_lines += 1

    for _, line in read_lines(path, count_invalid, byte_range):
        line = line.strip()
        if line:
            document.append(line)
        elif document:
            yield document
            document = []
    if document:
        yield document


_BLANK_LINE_BYTES = b" \t\r\x0b\x0c"
_SCAN_BYTES = 1 << 16


def document_ranges(path: str, range_bytes: int) -> List[Tuple[int, int]]:
    """Cuts a file into byte ranges of about `range_bytes`, each starting just after a
    blank line (a document boundary) or at 0, covering the file in order.

    >>> import tempfile
    >>> path = tempfile.mkstemp()[1]
    >>> _ = open(path, "wb").write(b"a\\nb\\n\\nc\\nd\\n\\ne\\n")
    >>> document_ranges(path, 3)
    [(0, 5), (5, 10), (10, 12)]
    """
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as handle:
        for target in range(range_bytes, size, range_bytes):
            if target <= cuts[-1]:
                continue
            cut = _next_document_start(handle, target)
            if cut is not None and cuts[-1] < cut < size:
                cuts.append(cut)
    cuts.append(size)
    return list(zip(cuts[:-1], cuts[1:]))


def _next_document_start(handle, offset: int) -> Optional[int]:
    """The offset just after the first blank line that begins at or after `offset`."""
    handle.seek(max(offset - 1, 0))
    if offset > 0 and handle.read(1) != b"\n":
        handle.readline()  # the rest of the line `offset` falls in
    while True:
        line = handle.readline()
        if not line:
            return None
        if line.endswith(b"\n") and not line.strip(_BLANK_LINE_BYTES + b"\n"):
            return handle.tell()


def split_long_sentence(tokens: Sequence[int], max_length: int,
                        word_starts: Optional[np.ndarray] = None) -> Tuple[List[Sequence[int]], int]:
    """Cuts a sentence into consecutive pieces of at most `max_length` tokens, of near-equal
    length, each starting at a word start (`word_segmentation.token_boundary_of`) where one
    is in reach.

    Returns the pieces and how many cuts had to fall inside a word (a single word
    longer than `max_length`).

    >>> split_long_sentence(list(range(7)), 3)
    ([[0, 1], [2, 3], [4, 5, 6]], 0)
    >>> starts = np.array([1, 0, 0, 1, 0, 1, 0])  # words: 0 1 2 | 3 4 | 5 6
    >>> split_long_sentence(list(range(7)), 4, starts)
    ([[0, 1, 2], [3, 4, 5, 6]], 0)
    """
    if word_starts is None:
        pieces = -(-len(tokens) // max_length)
        bounds = [i * len(tokens) // pieces for i in range(pieces + 1)]
        return [tokens[begin:end] for begin, end in zip(bounds[:-1], bounds[1:])], 0
    starts = np.flatnonzero(token_boundary_of(tokens, word_starts))
    pieces: List[Sequence[int]] = []
    inside_words = 0
    begin = 0
    while len(tokens) - begin > max_length:
        remaining_pieces = -(-(len(tokens) - begin) // max_length)
        target = begin + -(-(len(tokens) - begin) // remaining_pieces)
        # Word starts in (begin, begin + max_length]: the cut nearest the even split.
        low, high = np.searchsorted(starts, [begin + 1, begin + max_length + 1])
        if low < high:
            candidates = starts[low:high]
            end = int(candidates[np.argmin(np.abs(candidates - target))])
        else:
            end = begin + max_length
            inside_words += 1
        pieces.append(tokens[begin:end])
        begin = end
    pieces.append(tokens[begin:])
    return pieces, inside_words


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


class CorpusDocuments(Sequence):
    """The documents of several token caches as one sequence (in cache order), from which
    a random segment B is drawn for NSP and for single-sentence chunks, as the original
    draws from every document of the input."""

    def __init__(self, caches: Sequence[TokenCache]):
        self.caches = list(caches)
        self.offsets = np.cumsum([0] + [len(cache) for cache in self.caches])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> List[List[int]]:
        cache = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.caches[cache].document(index - int(self.offsets[cache]))

    def excluding(self, index: int) -> "DocumentsExcept":
        return DocumentsExcept(self, index)


class DocumentsExcept(Sequence):
    """The documents of a sequence other than one."""

    def __init__(self, documents: Sequence, excluded: int):
        self.documents, self.excluded = documents, excluded

    def __len__(self) -> int:
        return len(self.documents) - 1

    def __getitem__(self, index: int) -> List[List[int]]:
        return self.documents[index + (index >= self.excluded)]


def tokenize_file(path: str, tokenizer, directory: str,
                  max_sentence_length: int, min_sentences: int,
                  byte_range: Optional[Tuple[int, int]] = None,
                  word_starts: Optional[np.ndarray] = None) -> CorpusStats:
    """Tokenizes a text file (or a `byte_range` of it) into a TokenCache under `directory`
    with `tokenizer.encode_batch` (a tokenizer, or a `WholeWordEncoder`).

    Sentences longer than `max_sentence_length` tokens are split (and counted), at word
    starts where `word_starts` allows, so that they can still take part in a pair;
    documents with fewer than `min_sentences` sentences are skipped (and counted).
    """
    stats = CorpusStats(files=1)
    os.makedirs(directory, exist_ok=True)
    handles = [open(os.path.join(directory, name + ".bin"), "wb") for name in TokenCache.FILES]
    tokens_out, sentences_out, documents_out = handles
    total_tokens, total_sentences, seen_documents = 0, 0, 0
    try:
        for lines in read_documents(path, stats, byte_range):
            seen_documents += 1
            sentences: List[Sequence[int]] = []
            for ids in tokenizer.encode_batch(lines):
                if len(ids) > max_sentence_length:
                    stats.long_sentences_split += 1
                    pieces, inside_words = split_long_sentence(ids, max_sentence_length,
                                                               word_starts)
                    stats.long_sentence_cuts_inside_words += inside_words
                    sentences.extend(pieces)
                elif ids:
                    sentences.append(ids)
            if len(sentences) < min_sentences:
                stats.single_sentence_documents += len(sentences) == 1
                continue
            stats.single_sentence_documents += len(sentences) == 1
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
