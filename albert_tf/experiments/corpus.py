"""The demo's text: the English documentation bundled with CPython, or a user's corpus.

Every CPython install ships the text of its language-reference topics in
`pydoc_data.topics` (what `help("for")` prints) and the docstrings of its standard-library
modules: about 230 documents and 150,000 words of English prose, no download needed. This
module turns them into the pretraining input format (one sentence per line, a blank line
between documents) and splits any corpus in that format into kept and held-out documents.
"""

import ast
import glob
import json
import os
import random
import re
import sys
import sysconfig
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from albert_tf.data.corpus import CorpusStats, read_documents
from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import write_atomically

Document = List[str]

# A heading's underline in pydoc's reStructuredText rendering.
_UNDERLINE = re.compile(r"^\s*([*=\-~^\"'`#+])\1{2,}\s*$")
# Sentence ends: terminal punctuation, then space, then what starts a sentence.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'*])")
_WHITESPACE = re.compile(r"\s+")
_MIN_WORDS = 3
# Lines that are not prose: doctest sessions, table rows and borders.
_NOT_PROSE = (">>>", "...", "|", "+-", "+=")
# Lines that start a new paragraph: list items.
_LIST_ITEM = re.compile(r"^([-*]|\d+\.)\s")


class CorpusError(AlbertTfError, ValueError):
    """A corpus the demo cannot use; the message names the file and what is missing."""


def prose_sentences(text: str) -> List[str]:
    """The prose sentences of a documentation text: headings, code and grammar blocks
    (indented lines), doctest sessions and tables are dropped, wrapped lines are joined,
    paragraphs split at sentence ends.

    Example:

    >>> prose_sentences('The "pass" statement\\n********************\\n\\n'
    ...                 '   pass_stmt ::= "pass"\\n\\n"pass" is a null operation. When it '
    ...                 'is executed,\\nnothing happens.\\n')
    ['"pass" is a null operation.', 'When it is executed, nothing happens.']
    """
    lines = text.splitlines()
    paragraphs: List[List[str]] = [[]]
    for index, line in enumerate(lines):
        is_heading = index + 1 < len(lines) and _UNDERLINE.match(lines[index + 1])
        if not line.strip() or line.startswith((" ", "\t")) or _UNDERLINE.match(line) \
                or is_heading or line.startswith(_NOT_PROSE):
            paragraphs.append([])
        elif _LIST_ITEM.match(line):
            paragraphs.append([line[2:].strip()])
        else:
            paragraphs[-1].append(line.strip())
    sentences = []
    for paragraph in paragraphs:
        joined = _WHITESPACE.sub(" ", " ".join(paragraph)).strip()
        sentences.extend(sentence for sentence in _SENTENCE_BREAK.split(joined)
                         if len(sentence.split()) >= _MIN_WORDS)
    return sentences


def python_docs_documents() -> List[Document]:
    """CPython's bundled English documentation as documents of prose sentences: one per
    reference topic (in name order), then one per top-level standard-library module (its
    module, class and function docstrings in source order, read with `ast`, never
    imported). Documents with fewer than two sentences are left out."""
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some distributions strip it; the docstrings remain
        topics = {}
    texts = [[topics[name]] for name in sorted(topics)]
    for path in sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py"))):
        texts.append(_docstrings(path))
    documents = [[sentence for text in document for sentence in prose_sentences(text)]
                 for document in texts]
    documents = [document for document in documents if len(document) >= 2]
    if not documents:
        raise CorpusError("this Python ships neither pydoc_data nor standard-library "
                          "sources: give a corpus with --corpus")
    return documents


def _docstrings(path: str) -> List[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []  # an unreadable library file only makes the corpus smaller
    nodes = [tree] + [node for node in ast.walk(tree) if isinstance(
        node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    return [text for text in map(ast.get_docstring, nodes) if text]


def read_corpus(path: str) -> List[Document]:
    """Reads a corpus in the pretraining format (one sentence per line, blank lines
    between documents)."""
    return list(read_documents(path, CorpusStats()))


def write_corpus(documents: Sequence[Document], path: str) -> None:
    """Writes documents in the pretraining format, atomically."""
    text = "\n\n".join("\n".join(_WHITESPACE.sub(" ", line) for line in document)
                       for document in documents)
    write_atomically(path, (text + "\n").encode("utf-8"))


def split_documents(documents: Sequence[Document], heldout_fraction: float, seed: int,
                    source: str) -> Tuple[List[Document], List[Document]]:
    """Splits whole documents (never a document's sentences) into (kept, held out), the
    held-out share rounded up to at least one document, in a seeded order."""
    if len(documents) < 2:
        raise CorpusError(f"{source}: {len(documents)} document(s); the demo needs at least "
                          "2, separated by blank lines")
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    heldout_count = min(len(documents) - 1, max(1, round(len(documents) * heldout_fraction)))
    heldout = set(order[:heldout_count])
    return ([d for i, d in enumerate(documents) if i not in heldout],
            [d for i, d in enumerate(documents) if i in heldout])


def corpus_identity(corpus: Optional[str]) -> List[object]:
    """What makes a split of `corpus` current: the file as it is now (an edited corpus is
    read again), or, for None, the Python whose documentation is bundled."""
    if corpus is None:
        return ["cpython-docs", list(sys.version_info[:2])]
    status = os.stat(corpus)
    return [os.path.abspath(corpus), status.st_size, status.st_mtime_ns]


def write_split_corpus(corpus: Optional[str], output_dir: str, seed: int,
                       check: Callable[[List[Document], str], object] = None
                       ) -> Dict[str, object]:
    """Reads `corpus` (None: CPython's documentation), runs `check(documents, source)`
    (which raises when the documents cannot serve), and writes 90% of the documents to
    `output_dir/pretrain.txt`, 10% to `heldout.txt` and counts to `summary.json`; returns
    the counts."""
    if corpus:
        documents, source = read_corpus(corpus), corpus
    else:
        documents, source = python_docs_documents(), "CPython's bundled documentation"
    if check is not None:
        check(documents, source)
    kept, heldout = split_documents(documents, 0.1, seed, source)
    write_corpus(kept, os.path.join(output_dir, "pretrain.txt"))
    write_corpus(heldout, os.path.join(output_dir, "heldout.txt"))
    summary = {"source": source, "documents": len(documents),
               "sentences": sum(map(len, documents)),
               "words": sum(len(line.split()) for d in documents for line in d),
               "pretrain_documents": len(kept), "heldout_documents": len(heldout)}
    write_atomically(os.path.join(output_dir, "summary.json"),
                     json.dumps(summary, indent=2).encode())
    return summary
