"""create_pretraining_data side by side with the original google-research/albert tool.

Both tools run on the same corpus, SentencePiece model and flags, once per seed; the
script reads every record back and prints, per tool and seed: instances, seconds, the
share of instances shorter than max_seq_length and of half length or less, the SOP label
balance, the share of tokens marked as word boundaries, the masked share, and how well
the records are mixed: distinct documents per 100 consecutive records (a uniform shuffle
is the reference) and the correlation between a record's position and its input file.

The original is not part of this project: pass a checkout of it (its
create_pretraining_data.py and tokenization.py run unchanged under TF 2's compat.v1; a
stub stands in for tensorflow_hub, which it imports but does not use here):

    git clone https://github.com/google-research/albert /tmp/albert
    .venv/bin/python benchmarks/compare_original_data.py --original_dir=/tmp/albert

Default corpus: the demo's CPython documentation prose (`albert_tf.experiments.corpus`), cut
into --files files.
"""

import collections
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from tests.records import read_records  # noqa: E402

flags.DEFINE_string("original_dir", None, "Checkout of google-research/albert.", required=True)
flags.DEFINE_list("input_file", [], "Corpus files (default: the demo's prose, see --files).")
flags.DEFINE_integer("files", 4, "Files the default corpus is cut into.")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model (default: trained on the "
                    "corpus with --vocab_size pieces).")
flags.DEFINE_integer("vocab_size", 4000, "Pieces of the trained SentencePiece model.")
flags.DEFINE_list("seeds", ["1", "2", "3"], "--random_seed values; one run per tool each.")
flags.DEFINE_integer("max_seq_length", 512, "As the tools' flag.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "As the tools' flag.")
flags.DEFINE_integer("dupe_factor", 5, "As the tools' flag.")
flags.DEFINE_integer("num_workers", 2, "albert_tf's --num_workers.")
flags.DEFINE_string("work_dir", None, "Where to write (default: a new temporary folder).")

_ORIGINAL_SHIM = """
import runpy, sys, types
sys.modules["tensorflow_hub"] = types.ModuleType("tensorflow_hub")
sys.path.insert(0, {shim_dir!r})
sys.argv = ["create_pretraining_data.py"] + {argv!r}
runpy.run_path({script!r}, run_name="__main__")
"""


def default_corpus(folder, files):
    from albert_tf.experiments.corpus import python_docs_documents, write_corpus
    documents = python_docs_documents()
    paths = []
    for index in range(files):
        path = os.path.join(folder, f"corpus-{index}.txt")
        write_corpus(documents[index::files], path)
        paths.append(path)
    return paths


def run_original(original_dir, work_dir, argv):
    shim_dir = os.path.join(work_dir, "shim")
    os.makedirs(shim_dir, exist_ok=True)
    link = os.path.join(shim_dir, "albert")  # the original imports `from albert import ...`
    if not os.path.exists(link):
        os.symlink(os.path.abspath(original_dir), link)
    code = _ORIGINAL_SHIM.format(shim_dir=shim_dir, argv=argv, script=os.path.join(
        original_dir, "create_pretraining_data.py"))
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def run_ours(argv, workers):
    subprocess.run([sys.executable, os.path.join(ROOT, "create_pretraining_data.py"), *argv,
                    f"--num_workers={workers}"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class DocumentIndex:
    """Tells the corpus document (and file) a record's segment A came from, by the 4-grams
    of token ids it shares with each document."""

    N = 4

    def __init__(self, paths, tokenizer):
        from albert_tf.data.corpus import CorpusStats, read_documents
        self.owner = {}
        self.file_of = []
        for file_index, path in enumerate(paths):
            for lines in read_documents(path, CorpusStats()):
                document = len(self.file_of)
                self.file_of.append(file_index)
                ids = [i for sentence in tokenizer.encode_batch(lines) for i in sentence]
                for start in range(len(ids) - self.N + 1):
                    key = tuple(ids[start:start + self.N])
                    self.owner[key] = document if self.owner.get(key, document) == document \
                        else -1

    def document_of(self, ids):
        votes = collections.Counter(self.owner.get(tuple(ids[i:i + self.N]), -1)
                                    for i in range(len(ids) - self.N + 1))
        votes.pop(-1, None)
        return votes.most_common(1)[0][0] if votes else -1


def measure(rows, index, max_seq_length, seed):
    lengths = np.array([int(row["input_mask"].sum()) for row in rows])
    documents = []
    for row in rows:
        ids = row["input_ids"].copy()
        count = int(row["masked_lm_weights"].sum()) if "masked_lm_weights" in row else 0
        ids[row["masked_lm_positions"][:count]] = row["masked_lm_ids"][:count]
        first_sep = int(np.flatnonzero(ids == 3)[0])
        documents.append(index.document_of(ids[1:first_sep].tolist()))
    documents = np.array(documents)
    known = documents >= 0
    files = np.array(index.file_of)[documents[known]]
    windows = [len(set(documents[i:i + 100].tolist())) for i in range(0, len(rows) - 99, 100)]
    uniform = np.random.default_rng(seed).permutation(documents)
    uniform_windows = [len(set(uniform[i:i + 100].tolist()))
                       for i in range(0, len(rows) - 99, 100)]
    return {
        "instances": len(rows),
        "short": float(np.mean(lengths < max_seq_length)),
        "half": float(np.mean(2 * lengths <= max_seq_length)),
        "label_1": float(np.mean([row["next_sentence_labels"][0] for row in rows])),
        "boundary": float(sum(row["token_boundary"].sum() for row in rows) / lengths.sum()),
        "masked": float(sum(row["masked_lm_weights"].sum() for row in rows) / lengths.sum()),
        "docs_per_100": float(np.mean(windows)) if windows else float("nan"),
        "uniform_docs_per_100": float(np.mean(uniform_windows)) if windows else float("nan"),
        "position_file_corr": float(np.corrcoef(np.flatnonzero(known), files)[0, 1]),
        "identified": float(np.mean(known)),
    }


def main(_):
    from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer, train_sentencepiece
    values = flags.FLAGS
    work_dir = values.work_dir or tempfile.mkdtemp(prefix="compare_original-")
    os.makedirs(work_dir, exist_ok=True)
    corpus = values.input_file or default_corpus(work_dir, values.files)
    spm_model = values.spm_model_file or train_sentencepiece(
        corpus, os.path.join(work_dir, "spm"), vocab_size=values.vocab_size)
    tokenizer = AlbertTokenizer(spm_model)
    index = DocumentIndex(corpus, tokenizer)
    print(f"corpus: {len(corpus)} file(s), {sum(os.path.getsize(p) for p in corpus) / 1e6:.2f} "
          f"MB, {len(index.file_of)} documents; {tokenizer.vocab_size} pieces; "
          f"max_seq_length={values.max_seq_length} dupe_factor={values.dupe_factor}")
    columns = ("instances", "seconds", "short", "half", "label_1", "boundary", "masked",
               "docs_per_100", "uniform_docs_per_100", "position_file_corr")
    print("| tool | seed | " + " | ".join(columns) + " |")
    print("|" + "---|" * (len(columns) + 2))
    totals = collections.defaultdict(list)
    for seed in map(int, values.seeds):
        for tool in ("original", "albert_tf"):
            output = os.path.join(work_dir, f"{tool}-{seed}.tfrecord")
            argv = [f"--input_file={','.join(corpus)}", f"--output_file={output}",
                    f"--spm_model_file={spm_model}", f"--vocab_file={spm_model}",
                    f"--random_seed={seed}", f"--max_seq_length={values.max_seq_length}",
                    f"--max_predictions_per_seq={values.max_predictions_per_seq}",
                    f"--dupe_factor={values.dupe_factor}"]
            started = time.perf_counter()
            if tool == "original":
                run_original(values.original_dir, work_dir, argv)
            else:
                run_ours(argv, values.num_workers)
            seconds = time.perf_counter() - started
            result = measure(read_records([output]), index, values.max_seq_length, seed)
            result["seconds"] = seconds
            totals[tool].append(result)
            print(f"| {tool} | {seed} | " + " | ".join(
                f"{result[c]:.4f}" if isinstance(result[c], float) and c != "seconds"
                else f"{result[c]:.1f}" if c == "seconds" else str(result[c])
                for c in columns) + " |", flush=True)
    for tool, results in totals.items():
        print(f"| {tool} | mean | " + " | ".join(
            f"{np.mean([r[c] for r in results]):.4f}" for c in columns) + " |")


if __name__ == "__main__":
    app.run(main)
