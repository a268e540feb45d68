"""The original ALBERT text clean-up, in Python and as TensorFlow ops giving equal strings.

Steps (the original's `preprocess_text`): collapse runs of whitespace to one space and
strip; unless accents are kept, decompose with NFKD and drop every character of non-zero
Unicode combining class; lower case when asked. LaTeX-style quotes ``` `` ``` and `''`
are kept as they are, as in the original (Hugging Face's tokenizer turns them into `"`).
"""

import difflib
import functools
import sys
import unicodedata
from typing import Callable, List, Tuple



def preprocess_text(text: str, lower_case: bool = True, keep_accents: bool = False) -> str:
    """Python path. Example:

    >>> preprocess_text("  Ça  ``marche''\\tbien ")
    "ca ``marche'' bien"
    """
    text = " ".join(text.split())
    if not keep_accents and not text.isascii():  # ASCII has nothing to decompose
        text = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in text if not unicodedata.combining(char))
    if lower_case:
        text = text.lower()
    return text


def preprocess_with_origins(text: str, lower_case: bool = True,
                            keep_accents: bool = False) -> Tuple[str, List[int]]:
    """`preprocess_text(text)` and, for each of its characters, the index of the character
    of `text` it comes from (a collapsed run of whitespace: its first character).

    >>> preprocess_with_origins("  Ça  va")
    ('ca va', [2, 3, 4, 6, 7])
    """
    chars: List[str] = []
    origins: List[int] = []
    space = None  # where the pending run of whitespace began
    for index, char in enumerate(text):
        if char.isspace():  # what str.split() splits on
            space = index if space is None else space
            continue
        if space is not None and chars:
            chars.append(" ")
            origins.append(space)
        space = None
        if not keep_accents and not char.isascii():
            char = "".join(c for c in unicodedata.normalize("NFKD", char)
                           if not unicodedata.combining(c))
        if lower_case:
            char = char.lower()
        chars.extend(char)
        origins.extend([index] * len(char))
    return realign(preprocess_text(text, lower_case, keep_accents), "".join(chars), origins)


def realign(expected: str, built: str, origins: List[int]) -> Tuple[str, List[int]]:
    """`(expected, origins)` when `built` (made character by character, with `origins`)
    is `expected`, or differs only where context mattered (str.lower's final sigma keeps
    the length); otherwise the origins carried over by a longest-matching-blocks
    alignment, each unmatched character taking the origin of the one before it."""
    if len(built) == len(expected):
        return expected, origins
    aligned = [None] * len(expected)
    matcher = difflib.SequenceMatcher(None, expected, built, autojunk=False)
    for block in matcher.get_matching_blocks():
        aligned[block.a:block.a + block.size] = origins[block.b:block.b + block.size]
    previous = origins[0] if origins else 0
    for index, origin in enumerate(aligned):
        previous = aligned[index] = previous if origin is None else origin
    return expected, aligned


@functools.lru_cache(maxsize=None)
def character_class(predicate: Callable[[str], bool]) -> str:
    """An RE2 character class of every code point (surrogates aside) for which `predicate`
    holds, built from Python's own Unicode tables so a graph op removes or splits on
    exactly the characters the Python path does."""
    ranges, start, previous = [], None, None
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF or not predicate(chr(code)):
            continue
        if previous is not None and code == previous + 1:
            previous = code
            continue
        if start is not None:
            ranges.append((start, previous))
        start = previous = code
    ranges.append((start, previous))
    return "[" + "".join(
        f"\\x{{{low:X}}}" if low == high else f"\\x{{{low:X}}}-\\x{{{high:X}}}"
        for low, high in ranges
    ) + "]"


def _is_combining(char: str) -> bool:
    return unicodedata.combining(char) != 0


def combining_characters_pattern() -> str:
    """An RE2 character class of every code point with a non-zero combining class: what
    `unicodedata.combining` removes (a `\\p{Mn}` class would also drop, for example,
    Devanagari vowel signs, whose combining class is 0)."""
    return character_class(_is_combining)


# Python's str.split() whitespace: RE2's \s (which lacks \v), \v, the information
# separators U+001C..U+001F and Unicode White_Space.
WHITESPACE_CHARACTER = r"[\s\x{0B}\x{1C}-\x{1F}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]"


def preprocess_text_tf(texts, lower_case: bool = True, keep_accents: bool = False):
    """Graph path: the same clean-up on a string tensor of any shape."""
    import tensorflow as tf
    import tensorflow_text as tf_text
    texts = tf.strings.regex_replace(texts, WHITESPACE_CHARACTER + "+", " ")
    texts = tf.strings.strip(texts)
    if not keep_accents:
        texts = tf_text.normalize_utf8(texts, "NFKD")
        texts = tf.strings.regex_replace(texts, combining_characters_pattern(), "")
    if lower_case:
        texts = _lower_keeping_nul(texts)
    return texts


def _lower_keeping_nul(texts):
    """`tf.strings.lower` ends a string at its first NUL (the Python path keeps the rest),
    so the pieces between NULs are lower-cased apart and joined again."""
    import tensorflow as tf
    pieces = tf.strings.lower(tf.strings.split(texts, sep="\x00"), encoding="utf-8")
    joined = tf.strings.reduce_join(tf.strings.join([pieces, tf.constant("\x00")]), axis=-1)
    length = tf.strings.length(joined)
    return tf.strings.substr(joined, tf.zeros_like(length), length - 1)  # the last NUL
