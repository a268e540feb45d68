"""Which tokenizer a run uses, chosen as the original chooses: a SentencePiece model when
one is given (the English releases; `vocab_file` is then not read), else the WordPiece
vocabulary (the Chinese releases)."""

from typing import Optional, Union

from absl import logging

from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer, TokenizerError
from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer

Tokenizer = Union[AlbertTokenizer, WordPieceTokenizer]


def load_tokenizer(spm_model_file: Optional[str] = None, vocab_file: Optional[str] = None,
                   lower_case: bool = True) -> Tokenizer:
    """`AlbertTokenizer(spm_model_file)` when given, else `WordPieceTokenizer(vocab_file)`.

    Example:

    >>> load_tokenizer()
    Traceback (most recent call last):
    ...
    albert_tf.data.sentencepiece_tokenizer.TokenizerError: give a SentencePiece model (spm_model_file) or a WordPiece vocabulary (vocab_file)
    """
    if spm_model_file:
        return AlbertTokenizer(spm_model_file, lower_case)
    if vocab_file:
        return WordPieceTokenizer(vocab_file, lower_case)
    raise TokenizerError("give a SentencePiece model (spm_model_file) or a WordPiece "
                         "vocabulary (vocab_file)")


def check_tokenizer_fits(tokenizer: Tokenizer, vocab_size: int) -> None:
    """The one vocabulary rule (training, evaluation, export): every id the tokenizer makes
    has an embedding row. A model with more rows than pieces trains rows no id reaches,
    which works but wastes them: a warning with both numbers.

    >>> class Pieces:
    ...     vocab_size, file_setting, source_file = 300, "spm_model_file", "spm.model"
    >>> check_tokenizer_fits(Pieces(), 200)
    Traceback (most recent call last):
    ...
    albert_tf.data.sentencepiece_tokenizer.TokenizerError: --spm_model_file spm.model has 300 pieces but the model's vocab_size is 200: ids past 199 have no embedding
    """
    if tokenizer.vocab_size > vocab_size:
        raise TokenizerError(f"--{tokenizer.file_setting} {tokenizer.source_file} has "
                             f"{tokenizer.vocab_size} pieces but the model's vocab_size is "
                             f"{vocab_size}: ids past {vocab_size - 1} have no embedding")
    if tokenizer.vocab_size < vocab_size:
        logging.warning("the model's vocab_size %d is larger than the %d pieces of %s: "
                        "%d embedding rows are never used (set vocab_size to %d to save "
                        "them)", vocab_size, tokenizer.vocab_size, tokenizer.source_file,
                        vocab_size - tokenizer.vocab_size, tokenizer.vocab_size)
