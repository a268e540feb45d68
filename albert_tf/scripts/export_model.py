r"""Export a trained ALBERT as a SavedModel that TF Serving loads.

Writes `<export_dir>/<model_name>/<version>/` (the next free version; never replaces one)
with a raw-text `serving_default` signature (in-graph tokenization), an ids-only signature,
and warm-up requests. A run folder (run_pretraining, run_classifier, run_squad) says what
it is: its task, labels, lengths and tokenizer (its own copy) come from inside it, from
whatever directory it is exported. Examples:

    # a classifier fine-tuned with run_classifier (its best weights): exports/sst-2/1
    python export_model.py --init_checkpoint=runs/sst2 --export_dir=exports

    # a question-answering model fine-tuned with run_squad: serving_default takes raw
    # question and context strings and returns the answer
    python export_model.py --init_checkpoint=runs/squad --export_dir=exports

    # a pretrained encoder: encode / serving_default / encode_text_pair signatures
    python export_model.py --init_checkpoint=runs/pretrain --export_dir=exports

    # a bare checkpoint (a converted release): say what it is
    python export_model.py --init_checkpoint=converted/base --task_name=sst-2 \
        --spm_model_file=converted/base/30k-clean.model --export_dir=exports

Other formats write the new (or empty) folder --export_dir names:

    # Hugging Face (from_pretrained), keras-hub (from_preset), LiteRT (float32 + int8)
    python export_model.py --init_checkpoint=runs/sst2 --format=hugging_face --export_dir=hf/sst2
    python export_model.py --init_checkpoint=runs/sst2 --format=keras_hub --export_dir=kh/sst2
    python export_model.py --init_checkpoint=runs/sst2 --format=tflite --export_dir=lite/sst2
"""

from absl import flags, logging

from albert_tf.cli.script import entry_point  # first: it quiets TensorFlow's C++ logs

QUESTION_ANSWERING = "question_answering"

flags.DEFINE_string("init_checkpoint", None, "A run folder (run_pretraining, run_classifier, "
                    "run_squad), or a checkpoint prefix or folder described by the flags "
                    "below.", required=True)
flags.DEFINE_string("export_dir", None, "saved_model: the folder TF Serving watches (a "
                    "new version under <model_name>/); other formats: the new folder written.",
                    required=True)
flags.DEFINE_enum("format", "saved_model", ["saved_model", "hugging_face", "keras_hub", "tflite"],
                  "saved_model (TF Serving), hugging_face (transformers from_pretrained: "
                  "config.json, model.safetensors, tokenizer), keras_hub (a preset for "
                  "from_preset; needs keras-hub), tflite (LiteRT model.tflite + "
                  "model_int8.tflite with the ids signature, and the tokenizer file).")
flags.DEFINE_string("model_name", None, "Model name (a folder under --export_dir). Default: "
                    "the run's task (sst-2, squad, albert_encoder, ...), else albert.")
flags.DEFINE_integer("max_seq_length", None, "Longest packed input (default: the run's "
                     "length; for a bare checkpoint the model's max_position_embeddings).")
flags.DEFINE_bool("text_signatures", True, "Export raw-text signatures (tensorflow-text ops); "
                  "--notext_signatures writes an ids-only model with core ops only.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"],
                  "Compute precision of the served model (outputs stay float32).")
flags.DEFINE_integer("sub_batch_size", 8, "Classifier and encoder signatures (text and "
                     "ids): run a request's rows in sub-batches of this many, sorted by "
                     "length, each padded to its own longest (BENCHMARKS.md); 0: the whole "
                     "request at once, as before.")
flags.DEFINE_integer("length_multiple", 16, "Sub-batch lengths are rounded up to a multiple "
                     "of it, so few shapes reach the model.")
flags.DEFINE_bool("qa_sub_batches", False, "Question answering: run a request's windows in "
                  "such sub-batches too. Faster on short contexts; the SQuAD v2 answerability "
                  "head answers the same, the span head the same unless a padding position "
                  "would have been among a window's n_best_size best (the original counts "
                  "them): off by default.")
flags.DEFINE_list("warmup_texts", None, "Texts for the warm-up requests (default: two "
                  "built-in sentences; question answering: question, context, question, ...).")
flags.DEFINE_bool("encoder_only", False, "Export the encoder (pooled and sequence outputs) "
                  "of a fine-tuned model.")
# A run folder's own copy is used; given, these must be the run's. A bare checkpoint needs
# them for the text signatures.
flags.DEFINE_string("spm_model_file", None, "SentencePiece model (default: the run folder's "
                    "copy).")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt (the Chinese releases; default: "
                    "the run folder's copy).")
flags.DEFINE_bool("do_lower_case", None, "Lower-case the text (default: as the run was "
                  "trained; a bare checkpoint: true).")
# What a bare checkpoint is (a run folder records it; given for one, they must agree).
flags.DEFINE_string("albert_config_file", None, "albert_config.json (default: the one in "
                    "the checkpoint's folder).")
flags.DEFINE_string("task_name", None, "A bare checkpoint's fine-tuning task (GLUE name or "
                    f"'custom'), or '{QUESTION_ANSWERING}' for a run_squad model; none: the "
                    "encoder.")
flags.DEFINE_list("labels", None, "custom: label strings in id order.")
flags.DEFINE_enum("task_type", "classification", ["classification", "regression"],
                  "custom: what the model predicts.")
flags.DEFINE_bool("text_pair", False, "custom: the text signature takes text_a and text_b.")
# Question answering: run_squad's inference flags (default: the run's).
flags.DEFINE_integer("doc_stride", None, "Question answering: tokens between window starts "
                     "(default: the run's, else 128).")
flags.DEFINE_integer("max_query_length", None, "Question answering: question tokens kept "
                     "(default: the run's, else 64).")
flags.DEFINE_integer("n_best_size", None, "Question answering: starts and ends considered "
                     "per window (default: the run's, else 20).")
flags.DEFINE_integer("max_answer_length", None, "Question answering: longest answer, in "
                     "tokens (default: the run's, else 30).")
flags.DEFINE_bool("version_2_with_negative", False, "A bare question-answering checkpoint: "
                  "SQuAD v2.0 (outputs null_odds and has_answer).")
flags.DEFINE_enum("v2_head", "answerability", ["answerability", "null_score"],
                  "A bare question-answering v2 checkpoint: its head.")
flags.DEFINE_integer("start_n_top", 5, "A bare answerability checkpoint: starts kept.")
flags.DEFINE_integer("end_n_top", 5, "A bare answerability checkpoint: ends kept per start.")
flags.DEFINE_float("null_odds_threshold", None, "Question answering v2: null odds at or "
                   "above it answer ''. Default: the threshold the run's evaluation chose "
                   "(eval_results.json), else 0.")

# Flags that describe what a bare checkpoint is; a run folder records them.
DESCRIPTION_FLAGS = ("albert_config_file", "task_name", "labels", "task_type", "text_pair",
                     "version_2_with_negative", "v2_head", "start_n_top", "end_n_top")
OVERRIDE_FLAGS = ("max_seq_length", "doc_stride", "max_query_length", "n_best_size",
                  "max_answer_length")


def main(values):
    from albert_tf.export.saved_model import ExportError
    from albert_tf.io_utils import check_writable
    from albert_tf.tasks.export_run import (ExportOptions, describe_checkpoint, export_source,
                                            export_to, run_source)
    from albert_tf.tasks.registry import entry
    from albert_tf.tasks.run_folder import find_run

    check_writable(values.export_dir, "export_dir")
    if values.format != "saved_model":
        for name in ("model_name", "warmup_texts", "text_signatures"):
            if values[name].present:
                raise ExportError(f"--{name} is for --format=saved_model, not "
                                  f"--format={values.format}")
    given = {name: values[name].value for name in DESCRIPTION_FLAGS + OVERRIDE_FLAGS
             + ("do_lower_case",) if values[name].present}
    options = ExportOptions(
        overrides={name: given[name] for name in OVERRIDE_FLAGS if name in given},
        precision=values.precision, text_signatures=values.text_signatures,
        warmup_texts=tuple(values.warmup_texts or ()), encoder_only=values.encoder_only,
        null_odds_threshold=values.null_odds_threshold,
        sub_batch_size=values.sub_batch_size, length_multiple=values.length_multiple,
        qa_sub_batches=values.qa_sub_batches)
    run = find_run(values.init_checkpoint)
    if run is not None:
        source = run_source(run, values.spm_model_file, values.vocab_file,
                            given.get("do_lower_case"))
        source.check_description({name: given[name] for name in DESCRIPTION_FLAGS
                                  if name in given})
        logging.info("%s: a %s run (%s)", run.folder, run.kind, run.layout.settings_file)
    else:
        source = describe_checkpoint(
            values.init_checkpoint, **{name: values[name].value for name in DESCRIPTION_FLAGS},
            spm_model_file=values.spm_model_file, vocab_file=values.vocab_file,
            do_lower_case=given.get("do_lower_case", True),
            # Another library's format takes a bare pretrained checkpoint (a conversion)
            # with its heads when it has them: no task needs naming.
            encoder_only=values.encoder_only or values.format != "saved_model")
    if values.format != "saved_model":
        for note in export_to(source, values.export_dir, values.format, options):
            print(f"note: {note}")
        logging.info("done: %s", values.export_dir)
        print(values.export_dir)
        return
    name = values.model_name or (entry(source.kind).serving().default_model_name(
        source.settings) if run is not None else "albert")
    path = export_source(source, values.export_dir, name, options)
    logging.info("done: %s", path)
    print(path)


run = entry_point("export_model", main)


if __name__ == "__main__":
    run()
