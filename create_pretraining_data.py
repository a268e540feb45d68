"""Writes ALBERT pretraining TFRecords (masked LM + SOP, or NSP) from text files.

Input: one sentence per line, a blank line between documents. Flags keep the original
tool's names and defaults; --num_workers, --num_output_shards, --dynamic_masking and
--shuffle_buffer are new. The manifest (flags, shard sizes, statistics) is
<output name without extension>.manifest.json beside the shards, written last: a shard set
is complete when it is there, and a rerun replaces the previous set whole.

Example:
    python create_pretraining_data.py --input_file='corpus/*.txt' \
        --output_file=data/train.tfrecord --spm_model_file=30k-clean.model \
        --max_seq_length=512 --dupe_factor=10 --num_output_shards=8
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from albert_tf.data.pretraining_data import PretrainingDataOptions  # noqa: E402

_DEFAULTS = PretrainingDataOptions()

flags.DEFINE_string("input_file", None, "Input text files: comma-separated globs.",
                    required=True)
flags.DEFINE_string("output_file", None,
                    "Output TFRecord name (sharded as NAME-00000-of-0000N), or a "
                    "comma-separated list of shard names.", required=True)
flags.DEFINE_string("spm_model_file", None, "SentencePiece model (ALBERT ids).", required=True)
flags.DEFINE_bool("do_lower_case", _DEFAULTS.do_lower_case, "Lower-case the text.")
flags.DEFINE_bool("do_whole_word_mask", _DEFAULTS.do_whole_word_mask,
                  "Mask all pieces of a word together.")
flags.DEFINE_integer("max_seq_length", _DEFAULTS.max_seq_length, "Sequence length.")
flags.DEFINE_integer("max_predictions_per_seq", _DEFAULTS.max_predictions_per_seq,
                     "Most masked positions per sequence.")
flags.DEFINE_integer("random_seed", _DEFAULTS.random_seed, "Seed: output depends on it and "
                     "on --num_output_shards only.")
flags.DEFINE_integer("dupe_factor", _DEFAULTS.dupe_factor,
                     "Passes over the input, each with different masks and pairs.")
flags.DEFINE_float("masked_lm_prob", _DEFAULTS.masked_lm_prob, "Share of tokens to mask.")
flags.DEFINE_float("short_seq_prob", _DEFAULTS.short_seq_prob,
                   "Probability of a shorter random target length.")
flags.DEFINE_integer("ngram", _DEFAULTS.ngram, "Longest masked n-gram, in words.")
flags.DEFINE_bool("favor_shorter_ngram", _DEFAULTS.favor_shorter_ngram,
                  "p(n) proportional to 1/n; reversed when false.")
flags.DEFINE_bool("random_next_sentence", _DEFAULTS.random_next_sentence,
                  "NSP (B from another document) instead of SOP (A and B swapped).")
flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Worker processes.")
flags.DEFINE_integer("num_output_shards", 1, "Output shards (files).")
flags.DEFINE_bool("dynamic_masking", _DEFAULTS.dynamic_masking,
                  "Write unmasked records; the input pipeline masks them every epoch.")
flags.DEFINE_integer("shuffle_buffer", _DEFAULTS.shuffle_buffer,
                     "Instances shuffled per worker before writing.")
flags.DEFINE_float("progress_interval", 10.0, "Seconds between progress lines.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from albert_tf.data.files import InputFileError, expand_file_patterns
    from albert_tf.data.pretraining_data import PretrainingDataError, create_pretraining_data
    from albert_tf.data.tokenization import TokenizerError
    from albert_tf.io_utils import OutputLocationError

    values = flags.FLAGS
    options = PretrainingDataOptions(**{
        name: values[name].value for name in PretrainingDataOptions.__dataclass_fields__})
    try:
        files = expand_file_patterns(values.input_file)
        logging.info("creating pretraining data from %d file(s) with %d worker(s)", len(files),
                     values.num_workers)
        create_pretraining_data(files, values.output_file, values.spm_model_file, options,
                                num_workers=values.num_workers,
                                num_output_shards=values.num_output_shards,
                                progress_interval=values.progress_interval)
    except (InputFileError, OutputLocationError, PretrainingDataError, TokenizerError,
            OSError) as error:
        raise SystemExit(f"create_pretraining_data: {error}") from None


def run():
    app.run(main)


if __name__ == "__main__":
    run()
