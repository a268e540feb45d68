r"""Fine-tune ALBERT for extractive question answering (SQuAD v1.1 and v2.0, CMRC 2018) and
write predictions scored by the official metric.

The original run_squad_v1 / run_squad_v2's flag names and defaults
(--version_2_with_negative selects v2.0). Examples:
    python run_squad.py --train_file=squad/train-v1.1.json --predict_file=squad/dev-v1.1.json \
        --spm_model_file=30k-clean.model --albert_config_file=albert_base/albert_config.json \
        --init_checkpoint=converted/base --output_dir=runs/squad1 --do_train --do_predict \
        --train_batch_size=48 --learning_rate=5e-5 --num_train_epochs=2.0
    python run_squad.py --train_file=cmrc2018/train.json --predict_file=cmrc2018/dev.json \
        --vocab_file=converted/base_zh/vocab_chinese.txt --evaluation=cmrc2018 ...

Training steps come from --num_train_epochs over the questions of --train_file, as in the
original, unless --num_train_steps is given; the warmup is --warmup_proportion of them
unless --num_warmup_steps is given.
"""

from absl import flags, logging

from albert_tf.cli.script import (  # first: it quiets TensorFlow's C++ logs
    define_flags, entry_point, settings_from_flags)
from albert_tf.cli.training_flags import (define_training_flags, strategy_and_config,
                                          training_values, warmup_steps)
from albert_tf.tasks.question_answering.settings import QASettings

SETTINGS_FLAGS = {
    "train_file": "SQuAD-format JSON for training.",
    "predict_file": "SQuAD-format JSON to predict (and score, when it has answers).",
    "train_feature_file": "Where the training windows are cached (default: the run "
                          "folder's data cache).",
    "predict_feature_file": "Where the prediction windows are cached.",
    "predict_feature_left_file": "Where the prediction windows' post-processing data is "
                                 "kept (JSON lines; the original's is a pickle).",
    "spm_model_file": "SentencePiece model (ALBERT's English releases). Default: the copy in "
                      "--output_dir when resuming, else in the --init_checkpoint run folder.",
    "vocab_file": "WordPiece vocab.txt, used when no --spm_model_file is given (the Chinese "
                  "releases).",
    "do_lower_case": "Lower-case the text.",
    "max_seq_length": "Window length: [CLS] question [SEP] context [SEP].",
    "doc_stride": "Tokens between the starts of a long context's windows.",
    "max_query_length": "Question tokens kept.",
    "do_train": "Fine-tune on --train_file.",
    "do_predict": "Predict --predict_file: predictions.json, nbest_predictions.json and, "
                  "with gold answers, eval_results.json.",
    "predict_batch_size": "Prediction batch size.",
    "n_best_size": "Candidate starts and ends per window, and answers kept per question.",
    "max_answer_length": "Longest answer, in tokens.",
    "evaluation": "Official metric for --predict_file: squad (v1.1 EM/F1) or cmrc2018 "
                  "(character F1/EM); --version_2_with_negative scores SQuAD v2.0.",
    "version_2_with_negative": "SQuAD v2.0: the original run_squad_v2 model (unanswerable "
                               "questions), null_odds.json and the null-threshold search.",
    "v2_head": "v2.0: answerability (the original ALBERT's run_squad_v2 head) or "
               "null_score (BERT's / Hugging Face's: the span head, [CLS] as the null "
               "answer).",
    "start_n_top": "v2.0: starts kept at inference.",
    "end_n_top": "v2.0: ends kept per start.",
    "dropout_prob": "v2.0: dropout in the answerability branch.",
    "export_dir": "Export the fine-tuned model for TF Serving to "
                  "<export_dir>/<export_model_name>/<version>/ when done.",
    "export_model_name": "Model name under --export_dir (default: squad, or cmrc2018).",
}

define_training_flags(QASettings)
define_flags(QASettings, SETTINGS_FLAGS)
flags.DEFINE_float("num_train_epochs", 3.0, "Epochs over the training questions.")
flags.DEFINE_float("warmup_proportion", 0.1, "Share of the training steps spent warming up.")


def main(values):
    from albert_tf.data.squad import read_squad
    from albert_tf.tasks.question_answering.task import run, training_steps

    strategy, config = strategy_and_config(values)
    loop_values = training_values(values, QASettings)
    if values.do_train and values.train_file and not values["num_train_steps"].present:
        questions = len(read_squad(values.train_file, is_training=True,
                                   version_2_with_negative=values.version_2_with_negative)[0])
        loop_values["num_train_steps"] = max(training_steps(
            questions, values.train_batch_size, values.num_train_epochs, 0.0)[0], 1)
    # The warmup is the original's share of whatever the training steps are.
    loop_values.update(warmup_steps(values, QASettings, loop_values["num_train_steps"],
                                    values.warmup_proportion))
    settings = QASettings(albert_config=config, **loop_values,
                          **settings_from_flags(values, SETTINGS_FLAGS))
    logging.info("done: %s", run(settings, strategy))


run = entry_point("run_squad", main)

if __name__ == "__main__":
    run()
