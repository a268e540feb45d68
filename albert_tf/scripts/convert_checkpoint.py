r"""Convert an original google-research ALBERT checkpoint, Hugging Face ALBERT weights or a
keras-hub preset into a checkpoint of this project, and print what was mapped, skipped,
missing and unused.

    # original TF1 release (albert_config.json beside it)
    python convert_checkpoint.py --source=albert_base/model.ckpt-best --output_dir=converted/base
    # Hugging Face folder (config.json with model.safetensors or pytorch_model.bin)
    python convert_checkpoint.py --source=hf/albert-base-v2 --output_dir=converted/base_hf
    # Google's Chinese release (vocab_chinese.txt beside it), or brightmart/albert_zh
    python convert_checkpoint.py --source=albert_base_zh/model.ckpt-best \
        --output_dir=converted/base_zh
    # a keras-hub preset folder (AlbertBackbone, or AlbertTextClassifier with its head)
    python convert_checkpoint.py --source=presets/albert_kh --output_dir=converted/kh

The tokenizer file found beside the source is checked and copied in. Then fine-tune with
`run_classifier.py --init_checkpoint=converted/base
--albert_config_file=converted/base/albert_config.json` and the tokenizer flag the report
names (`--spm_model_file` or `--vocab_file`).
"""

from absl import flags

from albert_tf.cli.script import entry_point  # first: it quiets TensorFlow's C++ logs

flags.DEFINE_string("source", None, "Original checkpoint prefix or folder, or a Hugging Face "
                    "folder / .safetensors / .bin file.", required=True)
flags.DEFINE_string("output_dir", None, "New folder for the converted checkpoint.",
                    required=True)
flags.DEFINE_string("config_file", None, "The source's config (default: albert_config.json "
                    "or config.json beside it).")
flags.DEFINE_string("tokenizer_file", None, "The source's SentencePiece model (.model) or "
                    "WordPiece vocabulary, copied into --output_dir (default: the one beside "
                    "it: 30k-clean.model, spiece.model, vocab_chinese.txt or vocab.txt).")

flags.DEFINE_integer("num_choices", None, "The source is a multiple-choice model with this "
                     "many options per question (the original run_race's checkpoint, 4; "
                     "Hugging Face's AlbertForMultipleChoice): its one-output head holds the "
                     "same tensors as a regressor's, so say it.")


def main(values):
    from albert_tf.checkpoints.conversion import convert_checkpoint

    report = convert_checkpoint(values.source, values.output_dir, values.config_file,
                                values.tokenizer_file, values.num_choices)
    print(report.text(), end="")


run = entry_point("convert_checkpoint", main)


if __name__ == "__main__":
    run()
