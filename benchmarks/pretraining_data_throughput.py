"""Wall time of create_pretraining_data for several --num_workers, on one file and on many.

Each run is the command-line tool in a fresh process (start-up included, as users see it)
on a generated corpus, with the original's default flags except --dupe_factor. The same
text is measured as one file and cut into --files files. With --chinese_megabytes, the
shared Chinese news corpus repeated to that size is measured instead, with the released
WordPiece vocabulary, without and with jieba whole-word masking. Run by hand:

    .venv/bin/python benchmarks/pretraining_data_throughput.py --documents=1000 --dupe_factor=5
    .venv/bin/python benchmarks/pretraining_data_throughput.py --chinese_megabytes=4 \
        --dupe_factor=5

The original tool's own time on a corpus is printed by benchmarks/compare_original_data.py.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402

from albert_tf.data.shards import manifest_path  # noqa: E402
from albert_tf.data.sentencepiece_tokenizer import train_sentencepiece  # noqa: E402
from tests.text_corpus import write_corpus  # noqa: E402

flags.DEFINE_integer("documents", 1000, "Documents in the generated corpus.")
flags.DEFINE_integer("dupe_factor", 5, "Passes over the corpus.")
flags.DEFINE_list("sentences_per_document", ["20", "80"],
                  "Range of sentences per document (Wikipedia articles run to dozens).")
flags.DEFINE_integer("files", 4, "Files of the multi-file case.")
flags.DEFINE_integer("max_seq_length", 512, "Sequence length.")
flags.DEFINE_integer("vocab_size", 8000, "SentencePiece vocabulary.")
flags.DEFINE_list("num_workers", ["1", "2"], "Worker counts to measure.")
flags.DEFINE_float("chinese_megabytes", 0, "Measure the shared Chinese news corpus "
                   "repeated to this size instead of the generated English one.")
CHINESE = os.path.join(os.path.dirname(ROOT), "shared", "data", "chinese")


def run(corpus, output, tokenizer_flags, dupe_factor, max_seq_length, workers):
    started = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "create_pretraining_data.py"),
                    f"--input_file={','.join(corpus)}", f"--output_file={output}",
                    *tokenizer_flags, f"--dupe_factor={dupe_factor}",
                    f"--max_seq_length={max_seq_length}", f"--num_workers={workers}",
                    "--num_output_shards=4"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    with open(manifest_path(output), encoding="utf-8") as handle:
        return json.load(handle)["statistics"]["instances"], seconds


def chinese(values, folder):
    with open(os.path.join(CHINESE, "news_zh_1.txt"), encoding="utf-8") as handle:
        text = handle.read().strip("\n") + "\n\n"
    corpus = os.path.join(folder, "news_zh.txt")
    with open(corpus, "w", encoding="utf-8") as handle:
        for _ in range(max(1, round(values.chinese_megabytes * 1e6 / len(text.encode())))):
            handle.write(text)
    vocab = f"--vocab_file={os.path.join(CHINESE, 'vocab.txt')}"
    print(f"corpus: news_zh_1.txt repeated to {os.path.getsize(corpus) / 1e6:.1f} MB; "
          f"max_seq_length={values.max_seq_length}, dupe_factor={values.dupe_factor}, "
          f"cpus={os.cpu_count()}")
    print("| masking | num_workers | instances | seconds | instances/s |")
    print("|---|---|---|---|---|")
    for name, segmenter in (("characters (original)", "none"), ("jieba words", "jieba")):
        for workers in map(int, values.num_workers):
            instances, seconds = run([corpus], os.path.join(folder, f"zh-{segmenter}-{workers}"
                                                                    ".tfrecord"),
                                     [vocab, f"--word_segmenter={segmenter}"],
                                     values.dupe_factor, values.max_seq_length, workers)
            print(f"| {name} | {workers} | {instances} | {seconds:.1f} | "
                  f"{instances / seconds:.0f} |", flush=True)


def main(_):
    values = flags.FLAGS
    if values.chinese_megabytes:
        return chinese(values, tempfile.mkdtemp(prefix="pretraining_data_bench-"))
    folder = tempfile.mkdtemp(prefix="pretraining_data_bench-")
    sentences = tuple(map(int, values.sentences_per_document))
    single = write_corpus(os.path.join(folder, "all.txt"), values.documents, seed=0,
                          sentences=sentences)
    with open(single, encoding="utf-8") as handle:
        documents = handle.read().split("\n\n")
    parts = []
    for index in range(values.files):
        path = os.path.join(folder, f"part{index}.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n\n".join(documents[index::values.files]))
        parts.append(path)
    spm_model = train_sentencepiece([single], os.path.join(folder, "spm"),
                                    vocab_size=values.vocab_size)
    print(f"corpus: {values.documents} documents of {sentences[0]}-{sentences[1]} sentences, "
          f"{os.path.getsize(single) / 1e6:.1f} MB; max_seq_length={values.max_seq_length}, "
          f"dupe_factor={values.dupe_factor}, cpus={os.cpu_count()}")
    print("| input | num_workers | instances | seconds | instances/s |")
    print("|---|---|---|---|---|")
    for name, corpus in (("1 file", [single]), (f"{values.files} files", parts)):
        for workers in map(int, values.num_workers):
            instances, seconds = run(corpus, os.path.join(folder, f"out-{len(corpus)}-{workers}"
                                                                  ".tfrecord"),
                                     [f"--spm_model_file={spm_model}"], values.dupe_factor,
                                     values.max_seq_length,
                                     workers)
            print(f"| {name} | {workers} | {instances} | {seconds:.1f} | "
                  f"{instances / seconds:.0f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
