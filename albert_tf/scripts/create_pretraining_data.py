r"""Writes ALBERT pretraining TFRecords (masked LM + SOP, or NSP) from text files.

Input: one sentence per line, a blank line between documents. Flags keep the original
tool's names and defaults (`--vocab_file`, `--input_file_mode` and `--do_permutation` are
accepted too); --num_workers, --num_output_shards, --dynamic_masking,
--skip_single_sentence_chunks, --shuffle_memory_mb and --word_segmenter (Chinese
whole-word masking) are new. The manifest (flags, shard sizes, statistics) is <output
name without extension>.manifest.json beside the shards, written last: a shard set is
complete when it is there, and a rerun replaces the previous set whole.

Example:
    python create_pretraining_data.py --input_file='corpus/*.txt' \
        --output_file=data/train.tfrecord --spm_model_file=30k-clean.model \
        --max_seq_length=512 --dupe_factor=10 --num_output_shards=8
    python create_pretraining_data.py --input_file=news_zh.txt \
        --output_file=data/zh.tfrecord --vocab_file=vocab.txt --word_segmenter=jieba
"""

import os

from absl import flags, logging

from albert_tf.cli.script import (  # first: it quiets TensorFlow's C++ logs
    define_flags, entry_point, settings_from_flags)
from albert_tf.data.pretraining_data import PretrainingDataSettings
from albert_tf.errors import AlbertTfError

# Workers start in about a second (they import no TensorFlow) and split large files by
# byte ranges; see BENCHMARKS.md for the measurements behind the default.
DEFAULT_WORKERS_CAP = 16
DEFAULT_WORKERS = max(1, min(os.cpu_count() or 1, DEFAULT_WORKERS_CAP))

flags.DEFINE_string("input_file", None, "Input text files: comma-separated globs.",
                    required=True)
flags.DEFINE_string("output_file", None,
                    "Output TFRecord name (sharded as NAME-00000-of-0000N), or a "
                    "comma-separated list of shard names.", required=True)
flags.DEFINE_string("spm_model_file", None, "SentencePiece model (ALBERT ids).")
flags.DEFINE_string("vocab_file", None,
                    "A WordPiece vocab.txt (the Chinese releases). With --spm_model_file it "
                    "is not read, as in the original.")
flags.DEFINE_string("input_file_mode", "r",
                    "The original's open mode for input files: r or rb (the same here: input "
                    "is read as bytes and decoded as UTF-8 either way).")
flags.DEFINE_bool("do_permutation", False,
                  "The original's permuted-token extra objective: not supported (must be "
                  "false).")
SETTINGS_FLAGS = {
    "do_lower_case": "Lower-case the text.",
    "do_whole_word_mask": "Mask all pieces of a word together.",
    "max_seq_length": "Sequence length.",
    "max_predictions_per_seq": "Most masked positions per sequence.",
    "random_seed": "Seed: output depends on it and on --num_output_shards only.",
    "dupe_factor": "Passes over the input, each with different masks and pairs.",
    "masked_lm_prob": "Share of tokens to mask.",
    "short_seq_prob": "Probability of a shorter random target length.",
    "ngram": "Longest masked n-gram, in words.",
    "favor_shorter_ngram": "p(n) proportional to 1/n; reversed when false.",
    "random_next_sentence": "NSP (B from another document) instead of SOP (A and B "
                            "swapped).",
    "dynamic_masking": "Write unmasked records; the input pipeline masks them every epoch.",
    "skip_single_sentence_chunks": "Skip chunks of one sentence; the original (default) "
                                   "pairs them with text from another document as a "
                                   "label-1 instance, in SOP mode too.",
    "shuffle_memory_mb": "Memory for shuffling each output shard; a larger shard is "
                         "shuffled in two passes over the disk.",
    "word_segmenter": "Chinese whole-word masking: 'jieba' segments the text and the "
                      "characters of a word are masked together (WordPiece vocabularies "
                      "only); 'none' (the original) masks each Chinese character alone.",
    "segmenter_user_dict": "Optional jieba user dictionary (UTF-8, 'word [frequency] [tag]' "
                           "per line) for --word_segmenter=jieba.",
}
define_flags(PretrainingDataSettings, SETTINGS_FLAGS)
flags.DEFINE_integer("num_workers", DEFAULT_WORKERS,
                     "Worker processes (default: the CPU count, at most "
                     f"{DEFAULT_WORKERS_CAP}).")
flags.DEFINE_integer("num_output_shards", 1, "Output shards (files).")
flags.DEFINE_float("progress_interval", 10.0, "Seconds between progress lines.")


class OriginalFlagError(AlbertTfError, ValueError):
    """One of the original tool's flags that this one takes differently, or not at all."""


def main(values):
    from albert_tf.data.files import expand_file_patterns
    from albert_tf.data.pretraining_data import create_pretraining_data

    check_original_flags(values)
    settings = PretrainingDataSettings(**settings_from_flags(values, SETTINGS_FLAGS))
    files = expand_file_patterns(values.input_file)
    logging.info("creating pretraining data from %d file(s) with %d worker(s)", len(files),
                 values.num_workers)
    create_pretraining_data(files, values.output_file, values.spm_model_file, settings,
                            num_workers=values.num_workers,
                            num_output_shards=values.num_output_shards,
                            progress_interval=values.progress_interval,
                            vocab_file=values.vocab_file)


def check_original_flags(values) -> None:
    """The original tool's flags that this one takes with a different meaning, or not."""
    problem = None
    if values.do_permutation:
        problem = ("--do_permutation (the original's permuted-token objective) is not "
                   "supported")
    elif values.input_file_mode not in ("r", "rb"):
        problem = f"--input_file_mode must be r or rb, got {values.input_file_mode!r}"
    elif not values.spm_model_file and not values.vocab_file:
        problem = ("give --spm_model_file (a SentencePiece model with ALBERT's ids; see "
                   "albert-train-spm) or --vocab_file (a WordPiece vocab.txt)")
    if problem:
        raise OriginalFlagError(problem)


run = entry_point("create_pretraining_data", main, errors=(OSError,))


if __name__ == "__main__":
    run()
