"""Trains a SentencePiece model with ALBERT's ids (<pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4).

Example:
    albert-train-spm --input_file='corpus/*.txt' --model_prefix=out/30k-clean --vocab_size=30000
"""

import os

from absl import flags, logging

from albert_tf.cli.script import entry_point  # first: it quiets TensorFlow's C++ logs

flags.DEFINE_string("input_file", None, "Text files: comma-separated globs.", required=True)
flags.DEFINE_string("model_prefix", None, "Writes <prefix>.model and <prefix>.vocab.",
                    required=True)
flags.DEFINE_integer("vocab_size", 30000, "Vocabulary size (soft limit for small corpora).",
                     lower_bound=6)
flags.DEFINE_bool("do_lower_case", True, "Lower-case text first (must match later use).")
flags.DEFINE_bool("keep_accents", False, "Keep accents instead of stripping them.")
flags.DEFINE_enum("model_type", "unigram", ["unigram", "bpe"], "SentencePiece algorithm.")
flags.DEFINE_float("character_coverage", 0.99995, "Share of characters the vocabulary covers.",
                   lower_bound=0.5, upper_bound=1.0)
flags.DEFINE_integer("input_sentence_size", 10_000_000,
                     "At most this many lines are sampled for training.", lower_bound=1)
flags.DEFINE_integer("num_threads", os.cpu_count() or 1, "Trainer threads.", lower_bound=1)


def main(values):
    from albert_tf.data.files import expand_file_patterns
    from albert_tf.data.sentencepiece_tokenizer import train_sentencepiece

    files = expand_file_patterns(values.input_file)
    logging.info("training SentencePiece on %d file(s)", len(files))
    path = train_sentencepiece(
        files, values.model_prefix, vocab_size=values.vocab_size,
        lower_case=values.do_lower_case, keep_accents=values.keep_accents,
        model_type=values.model_type, character_coverage=values.character_coverage,
        input_sentence_size=values.input_sentence_size, num_threads=values.num_threads)
    print(path)


run = entry_point("albert-train-spm", main, errors=(OSError,), uses_tensorflow=False)


if __name__ == "__main__":
    run()
