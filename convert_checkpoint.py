"""Convert an original google-research ALBERT checkpoint or Hugging Face ALBERT weights into a
checkpoint of this project, and print what was mapped, skipped, missing and unused.

    # original TF1 release (albert_config.json beside it)
    python convert_checkpoint.py --source=albert_base/model.ckpt-best --output_dir=converted/base
    # Hugging Face folder (config.json with model.safetensors or pytorch_model.bin)
    python convert_checkpoint.py --source=hf/albert-base-v2 --output_dir=converted/base_hf

Then fine-tune with `run_classifier.py --init_checkpoint=converted/base
--albert_config_file=converted/base/albert_config.json`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from albert_tf.cli.training_flags import exit_on_user_error  # noqa: E402

flags.DEFINE_string("source", None, "Original checkpoint prefix or folder, or a Hugging Face "
                    "folder / .safetensors / .bin file.", required=True)
flags.DEFINE_string("output_dir", None, "New folder for the converted checkpoint.",
                    required=True)
flags.DEFINE_string("config_file", None, "The source's config (default: albert_config.json "
                    "or config.json beside it).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from albert_tf.checkpoints.conversion import convert_checkpoint

    values = flags.FLAGS
    with exit_on_user_error("convert_checkpoint"):
        report = convert_checkpoint(values.source, values.output_dir, values.config_file)
    print(report.text(), end="")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
