r"""Fine-tune ALBERT on RACE (multiple choice): train, evaluate, predict, as the original
run_race.py, with its flag names. Example:

    python run_race.py --data_dir=RACE --output_dir=runs/race --init_checkpoint=runs/base \
        --spm_model_file=spm/albert.model --max_seq_length=512 --max_qa_length=128 \
        --train_batch_size=32 --learning_rate=1e-5 --train_step=12000 --warmup_step=1000 \
        --do_train --do_eval --do_predict

--data_dir holds train/, dev/ and test/ (or RACE/train, ...), each with middle/ and
high/ folders of RACE's .txt files (one JSON object per line). Evaluation reports the
accuracy overall and per level (eval_results.json); --do_predict writes
predictions.jsonl for test/. A Chinese model: --vocab_file=vocab.txt instead of
--spm_model_file.
"""

from absl import flags, logging

from albert_tf.cli.script import (  # first: it quiets TensorFlow's C++ logs
    define_flags, entry_point, settings_from_flags)
from albert_tf.cli.training_flags import (define_training_flags, strategy_and_config,
                                          training_values, warmup_steps)
from albert_tf.tasks.multiple_choice.settings import RaceSettings

SETTINGS_FLAGS = {
    "data_dir": "The RACE folder: train/, dev/, test/ with middle/ and high/ inside.",
    "spm_model_file": "SentencePiece model (ALBERT's English releases). Default: the copy in "
                      "--output_dir when resuming, else in the --init_checkpoint run folder.",
    "vocab_file": "WordPiece vocab.txt, used when no --spm_model_file is given.",
    "do_lower_case": "Lower-case the text.",
    "max_seq_length": "Packed length of each choice: [CLS] article [SEP] question+option "
                      "[SEP].",
    "max_qa_length": "Tokens kept of question+option (its last ones).",
    "num_choices": "Options per question.",
    "high_only": "Only the high-school questions.",
    "middle_only": "Only the middle-school questions.",
    "dropout_rate": "Dropout before the output layer.",
    "do_train": "Fine-tune on train/.",
    "do_eval": "Evaluate on dev/ after every checkpoint.",
    "do_predict": "Write predictions.jsonl for test/ (the best weights).",
    "predict_batch_size": "Prediction batch size.",
    "export_dir": "Export the best weights for TF Serving to "
                  "<export_dir>/<export_model_name>/<version>/ when done.",
    "export_model_name": "Model name under --export_dir (default: race).",
}

define_training_flags(RaceSettings)
define_flags(RaceSettings, SETTINGS_FLAGS, RaceSettings.FLAG_NAMES,
             defaults={"do_train": True, "do_eval": True})
flags.mark_flags_as_required(["data_dir"])


def main(values):
    from albert_tf.tasks.multiple_choice.task import run

    strategy, config = strategy_and_config(values)
    loop_values = training_values(values, RaceSettings)
    loop_values.update(warmup_steps(values, RaceSettings, values.train_step, None))
    settings = RaceSettings(albert_config=config, **loop_values,
                            **settings_from_flags(values, SETTINGS_FLAGS,
                                                  RaceSettings.FLAG_NAMES))
    logging.info("done: %s", run(settings, strategy))


run = entry_point("run_race", main)

if __name__ == "__main__":
    run()
