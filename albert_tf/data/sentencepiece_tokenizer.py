"""SentencePiece tokenization with ALBERT's ids, in Python and in the TensorFlow graph.

ALBERT's vocabulary reserves `<pad>`=0, `<unk>`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4 and
has no BOS/EOS. `AlbertTokenizer` checks a model file for that layout, applies the
original text clean-up, and tokenizes either with the `sentencepiece` package
(`encode`) or with tensorflow-text inside a graph (`encode_tf`); both give the same ids.
The original's extra split of pieces such as `▁1999,` is not reproduced, because a
graph cannot repeat it and the two paths must agree.

TensorFlow is imported only by the graph path, so processes that only tokenize (the
create_pretraining_data workers) start in a fraction of a second.
"""

import hashlib
import io
import itertools
import os
from typing import Iterable, Iterator, List, NamedTuple, Sequence, Tuple

import sentencepiece as spm
from absl import logging

from albert_tf.data.text_files import read_lines
from albert_tf.data.text_preprocessing import (preprocess_text, preprocess_text_tf,
                                               preprocess_with_origins)
from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import check_input_file, check_writable, write_atomically

class SpecialIds(NamedTuple):
    """The ids of a vocabulary's special tokens (packing, masking and serving use them)."""

    pad: int
    unk: int
    cls: int
    sep: int
    mask: int


PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = ALBERT_SPECIAL_IDS = SpecialIds(0, 1, 2, 3, 4)
SPECIAL_PIECES = ("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]")
# SentencePiece's own default: longer lines are skipped by its trainer (and counted here).
MAX_SENTENCE_BYTES = 4192
WORD_START = "\u2581"  # SentencePiece's "▁": the piece begins a new word
# The original's _is_start_piece_sp: ASCII punctuation except ' < = > (its list lacks them)
_PUNCTUATION = frozenset('!"#$%&()*+,-./:;?@[\\]^_`{|}~')
_CONTINUATION_CHARACTERS = _PUNCTUATION | frozenset("abcdefghijklmnopqrstuvwxyz")


def is_start_piece(piece: str) -> bool:
    """The original create_pretraining_data's start-of-word rule for SentencePiece pieces.

    A piece starts a word when it begins with `▁` or `<`, is a single punctuation
    character, or holds any character other than a-z (either case) and ASCII punctuation
    (digits, accents, CJK, the apostrophe): such pieces are always masked on their own.

    >>> [is_start_piece(p) for p in ["▁the", "ing", ",", "s,", "1999", "'s", "é"]]
    [True, False, True, False, True, True, True]
    """
    return (piece.startswith((WORD_START, "<")) or piece in _PUNCTUATION
            or not all(char.lower() in _CONTINUATION_CHARACTERS for char in piece))


class TokenizerError(AlbertTfError, ValueError):
    """A SentencePiece model that is missing or not laid out with ALBERT's ids."""


class AlbertTokenizer:
    """Tokenizer over a SentencePiece model with ALBERT's special ids.

    Args:
        spm_model_file: Path to the `.model` file.
        lower_case: Lower-case text before tokenizing (`do_lower_case`).
        keep_accents: Keep accents instead of stripping them after NFKD.

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> corpus = os.path.join(folder, "corpus.txt")
    >>> _ = open(corpus, "w").write("the cat sat on the mat\\nthe dog sat on the log\\n" * 50)
    >>> model = train_sentencepiece([corpus], os.path.join(folder, "spm"), vocab_size=40)
    >>> tokenizer = AlbertTokenizer(model)
    >>> tokenizer.id_to_piece(list(range(5)))
    ['<pad>', '<unk>', '[CLS]', '[SEP]', '[MASK]']
    >>> ids = tokenizer.encode("The  CAT sat.")
    >>> ids == tokenizer.encode_tf(["The  CAT sat."]).to_list()[0]
    True
    """

    def __init__(self, spm_model_file: str, lower_case: bool = True, keep_accents: bool = False):
        check_input_file(spm_model_file, "SentencePiece model file", TokenizerError)
        with open(spm_model_file, "rb") as handle:
            self.model_proto = handle.read()
        self.processor = spm.SentencePieceProcessor()
        try:
            self.processor.LoadFromSerializedProto(self.model_proto)
        except (RuntimeError, OSError) as error:
            raise TokenizerError(
                f"{spm_model_file}: not a SentencePiece model ({error})") from None
        pieces = [self.processor.IdToPiece(i) for i in range(min(5, self.processor.GetPieceSize()))]
        if tuple(pieces) != SPECIAL_PIECES:
            raise TokenizerError(
                f"{spm_model_file}: ids 0-4 must be {list(SPECIAL_PIECES)} as in ALBERT, got "
                f"{pieces}; train it with train_sentencepiece / albert-train-spm"
            )
        self.spm_model_file = spm_model_file
        self.lower_case = lower_case
        self.keep_accents = keep_accents
        self._tf_tokenizer = None
        self._word_start = [is_start_piece(self.processor.IdToPiece(i))
                            for i in range(self.vocab_size)]

    special_ids = ALBERT_SPECIAL_IDS
    description = "SentencePiece model"
    file_setting = "spm_model_file"  # the setting (and flag) that names source_file

    @property
    def source_file(self) -> str:
        """The file that defines the tokenizer (exports keep it as an asset)."""
        return self.spm_model_file

    @property
    def vocab_size(self) -> int:
        return self.processor.GetPieceSize()

    @property
    def model_sha256(self) -> str:
        """The model file's sha256: what runs, caches and exports record to tell models apart."""
        return hashlib.sha256(self.model_proto).hexdigest()

    def preprocess(self, text: str) -> str:
        return preprocess_text(text, self.lower_case, self.keep_accents)

    def preprocess_tf(self, texts):
        """Graph path of `preprocess`: string [batch] -> the cleaned strings."""
        import tensorflow as tf
        return preprocess_text_tf(tf.convert_to_tensor(texts, tf.string), self.lower_case,
                                  self.keep_accents)

    def encode(self, text: str) -> List[int]:
        """Ids of one text, without [CLS]/[SEP]."""
        return self.processor.EncodeAsIds(self.preprocess(text))

    def encode_batch(self, texts: Sequence[str]) -> List[List[int]]:
        return self.processor.EncodeAsIds([self.preprocess(text) for text in texts])

    def tokenize(self, text: str) -> List[str]:
        return self.processor.EncodeAsPieces(self.preprocess(text))

    def encode_with_offsets(self, text: str) -> Tuple[List[int], List[int], List[int]]:
        """`encode(text)` with each token's character span `[start, end)` in `text` itself
        (before clean-up; a piece's leading `▁` covers no character). A piece that is
        only `▁` gets an empty span where the next character begins.

        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> corpus = os.path.join(folder, "corpus.txt")
        >>> _ = open(corpus, "w").write("the cafe is open\\n" * 50)
        >>> tokenizer = AlbertTokenizer(train_sentencepiece([corpus], folder + "/m", 30))
        >>> text = "  The  CAFÉ is open"
        >>> ids, starts, ends = tokenizer.encode_with_offsets(text)
        >>> ids == tokenizer.encode(text), "|".join(text[s:e] for s, e in zip(starts, ends))
        (True, '|T|h|e||C|A|F|É||i|s|open')
        """
        cleaned, origins = preprocess_with_origins(text, self.lower_case, self.keep_accents)
        encoded = self.processor.Encode(cleaned, return_type="proto")
        # SentencePiece reports byte offsets into `cleaned`.
        char_at_byte = [0] * (len(cleaned.encode("utf-8")) + 1)
        position = 0
        for index, char in enumerate(cleaned):
            width = len(char.encode("utf-8"))
            char_at_byte[position:position + width] = [index] * width
            position += width
        char_at_byte[position] = len(cleaned)
        ends_of_text = origins + [len(text)]
        ids, starts, ends = [], [], []
        for piece in encoded.pieces:
            begin, end = char_at_byte[piece.begin], char_at_byte[piece.end]
            while begin < end and cleaned[begin] == " ":
                begin += 1
            ids.append(piece.id)
            if begin == end:
                starts.append(ends_of_text[end])
                ends.append(ends_of_text[end])
            else:
                starts.append(origins[begin])
                ends.append(origins[end - 1] + 1)
        return ids, starts, ends

    def id_to_piece(self, ids):
        return self.processor.IdToPiece(ids)

    def is_word_start(self, token_id: int) -> bool:
        """True when the piece starts a word by the original's rule (`is_start_piece`):
        whole-word masking groups the pieces after it with it."""
        return self._word_start[token_id]

    @property
    def tf_tokenizer(self):
        """The tensorflow-text op over the same model (created once, on first use).

        Its resource is owned by an eager kernel, and `tf.random.set_seed` (which
        `keras.utils.set_random_seed` calls) clears the kernel cache and so deletes it:
        seed first, then tokenize in the graph.
        """
        if self._tf_tokenizer is None:
            import tensorflow as tf
            import tensorflow_text as tf_text
            self._tf_tokenizer = tf_text.SentencepieceTokenizer(
                model=self.model_proto, out_type=tf.int32)
        return self._tf_tokenizer

    def encode_tf(self, texts):
        """Graph path: string tensor [batch] -> int32 ragged ids [batch, (tokens)]."""
        import tensorflow as tf
        texts = preprocess_text_tf(tf.convert_to_tensor(texts, tf.string),
                                   self.lower_case, self.keep_accents)
        return self.tf_tokenizer.tokenize(texts)

    def encode_with_offsets_tf(self, texts):
        """Graph path of `encode_with_offsets`: string [batch] -> int32 ragged ids, starts
        and ends [batch, (tokens)] (characters of the raw text; see graph_offsets.py)."""
        import tensorflow as tf

        from albert_tf.data import graph_offsets

        texts = tf.convert_to_tensor(texts, tf.string)
        chars = graph_offsets.raw_characters(texts)  # [batch, (chars)]
        became = preprocess_text_tf(chars.flat_values, self.lower_case, self.keep_accents)
        counts = graph_offsets.whitespace_collapse_counts(
            chars, chars.with_flat_values(tf.strings.length(became, unit="UTF8_CHAR")))
        cleaned = preprocess_text_tf(texts, self.lower_case, self.keep_accents)
        origins = graph_offsets.char_origins(counts, tf.strings.length(cleaned, unit="UTF8_CHAR"))
        ids, begin, end = self.tf_tokenizer.tokenize_with_offsets(cleaned)
        starts, ends = graph_offsets.sentencepiece_offsets(
            cleaned, origins, tf.strings.length(texts, unit="UTF8_CHAR"), begin, end)
        return tuple(tf.cast(tensor, tf.int32) for tensor in (ids, starts, ends))


def train_sentencepiece(
    input_files: Sequence[str],
    model_prefix: str,
    vocab_size: int = 30000,
    lower_case: bool = True,
    keep_accents: bool = False,
    model_type: str = "unigram",
    character_coverage: float = 0.99995,
    input_sentence_size: int = 10_000_000,
    num_threads: int = os.cpu_count() or 1,
) -> str:
    """Trains a SentencePiece model with ALBERT's special ids and returns its path.

    Lines are cleaned with the same preprocessing the tokenizer applies. `vocab_size` is
    a soft limit: a corpus too small for it yields a smaller vocabulary (logged) instead
    of failing. `<model_prefix>.model` and `.vocab` are written atomically.
    """
    if vocab_size <= len(SPECIAL_PIECES):
        raise TokenizerError(f"vocab_size must exceed {len(SPECIAL_PIECES)}, got {vocab_size}")
    check_writable(model_prefix + ".model", "model_prefix", is_dir=False)
    training_lines = _TrainingLines(input_files, lower_case, keep_accents)
    lines = iter(training_lines)
    first_line = next(lines, None)
    if first_line is None:
        raise TokenizerError(f"no text in {', '.join(input_files)}: every line is empty"
                         + (f" or not UTF-8 ({training_lines.invalid_utf8} skipped)"
                            if training_lines.invalid_utf8 else ""))
    model_buffer = io.BytesIO()
    lines_seen = _CountingIterator(itertools.chain([first_line], lines))
    try:
        _train(lines_seen, model_buffer, vocab_size, model_type, character_coverage,
               input_sentence_size, num_threads)
    except RuntimeError as error:
        reason = ("no line was usable" if "sentences_.empty()" in str(error)
                  else str(error).split("] ", 1)[-1].strip() or str(error))
        raise TokenizerError(
            f"SentencePiece training on {', '.join(input_files)} failed: {reason} "
            f"({lines_seen.count} lines read, {training_lines.too_long} longer than "
            f"{MAX_SENTENCE_BYTES} bytes and skipped by the trainer, "
            f"{training_lines.invalid_utf8} not UTF-8)") from None
    if training_lines.invalid_utf8 > training_lines.lines / 2:
        raise TokenizerError(f"{', '.join(input_files)}: {training_lines.invalid_utf8} of "
                         f"{training_lines.lines} lines are not UTF-8: binary input, or "
                         "another encoding (convert the text to UTF-8)")
    processor = spm.SentencePieceProcessor(model_proto=model_buffer.getvalue())
    size = processor.GetPieceSize()
    if size < vocab_size:
        logging.warning("corpus supports only %d pieces; asked for %d", size, vocab_size)
    logging.info("trained SentencePiece %s on %d lines: %d pieces", model_type,
                 lines_seen.count, size)
    vocab = "".join(f"{processor.IdToPiece(i)}\t{processor.GetScore(i)}\n" for i in range(size))
    model_path = model_prefix + ".model"
    write_atomically(model_path, model_buffer.getvalue())
    write_atomically(model_prefix + ".vocab", vocab.encode("utf-8"))
    return model_path


def _train(lines, model_buffer, vocab_size, model_type, character_coverage,
           input_sentence_size, num_threads) -> None:
    spm.SentencePieceTrainer.Train(
        sentence_iterator=lines,
        model_writer=model_buffer,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        model_type=model_type,
        character_coverage=character_coverage,
        input_sentence_size=input_sentence_size,
        shuffle_input_sentence=True,
        num_threads=num_threads,
        max_sentence_length=MAX_SENTENCE_BYTES,
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=-1, eos_id=-1,
        pad_piece="<pad>", unk_piece="<unk>",
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        minloglevel=2,
    )


class _CountingIterator:
    def __init__(self, lines: Iterable[str]):
        self._lines = iter(lines)
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        return line


class _TrainingLines:
    """The cleaned non-empty lines of the input files (read as create_pretraining_data
    reads them: lines that are not UTF-8 are skipped and counted), with the counts that
    explain a trainer failure."""

    def __init__(self, input_files, lower_case, keep_accents):
        self.input_files, self.lower_case, self.keep_accents = input_files, lower_case, \
            keep_accents
        self.invalid_utf8 = self.too_long = self.lines = 0

    def _count_invalid(self, _):
        self.invalid_utf8 += 1
        self.lines += 1

    def __iter__(self) -> Iterator[str]:
        for path in self.input_files:
            for _, line in read_lines(path, self._count_invalid):
                self.lines += 1
                line = preprocess_text(line, self.lower_case, self.keep_accents)
                if line:
                    self.too_long += len(line.encode("utf-8")) > MAX_SENTENCE_BYTES
                    yield line
