"""Which tokenizer a run uses, chosen as the original chooses: a SentencePiece model when
one is given (the English releases; `vocab_file` is then not read), else the WordPiece
vocabulary (the Chinese releases)."""

from typing import Optional, Union

from albert_tf.data.tokenization import AlbertTokenizer, TokenizerError
from albert_tf.data.wordpiece import WordPieceTokenizer

Tokenizer = Union[AlbertTokenizer, WordPieceTokenizer]


def identity_key(tokenizer: Tokenizer) -> str:
    """The key under which run folders record the tokenizer file's sha256
    (`spm_model_sha256` or `vocab_sha256`)."""
    return tokenizer.file_setting.removesuffix("_file") + "_sha256"


def load_tokenizer(spm_model_file: Optional[str] = None, vocab_file: Optional[str] = None,
                   lower_case: bool = True) -> Tokenizer:
    """`AlbertTokenizer(spm_model_file)` when given, else `WordPieceTokenizer(vocab_file)`.

    Example:

    >>> load_tokenizer()
    Traceback (most recent call last):
    ...
    albert_tf.data.tokenization.TokenizerError: give a SentencePiece model (spm_model_file) or a WordPiece vocabulary (vocab_file)
    """
    if spm_model_file:
        return AlbertTokenizer(spm_model_file, lower_case)
    if vocab_file:
        return WordPieceTokenizer(vocab_file, lower_case)
    raise TokenizerError("give a SentencePiece model (spm_model_file) or a WordPiece "
                         "vocabulary (vocab_file)")
