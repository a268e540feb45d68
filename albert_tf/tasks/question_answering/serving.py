"""The export of a fine-tuned question-answering model: `serving_default` takes raw
`question` and `context` strings and returns each answer as run_squad predicts it (v2.0:
with null odds and has_answer); `serve_ids` takes packed windows. `encoder_only` exports
its encoder instead."""

from albert_tf.export.question_answering import QAServingModule, load_qa_model
from albert_tf.export.saved_model import ExportError
from albert_tf.tasks.pretraining.serving import encoder_module

# Inference settings an export may set otherwise than the run predicted with.
EXPORT_SETTINGS = ("max_seq_length", "doc_stride", "max_query_length", "n_best_size",
                   "max_answer_length")


def default_model_name(settings) -> str:
    return "cmrc2018" if settings.evaluation == "cmrc2018" else "squad"


def null_odds_threshold(source, options) -> float:
    """The export's threshold: the one given, else the one the run's evaluation chose
    (eval_results.json), else 0."""
    if options.null_odds_threshold is not None:
        return options.null_odds_threshold
    return float((source.results or {}).get("null_score_diff_threshold") or 0.0)


def serving_module(source, options):
    if options.encoder_only:
        return encoder_module(source, options)
    settings = source.settings
    if not options.text_signatures:
        raise ExportError("a question-answering export always has its raw-text signature; "
                          "leave out --notext_signatures")
    if source.tokenizer is None:
        raise ExportError("question answering needs the tokenizer: --spm_model_file or "
                          "--vocab_file")
    model = load_qa_model(settings.albert_config, source.checkpoint, settings.answerability,
                          settings.start_n_top, settings.end_n_top, dtype=options.precision)
    return QAServingModule(
        model, source.tokenizer, settings.max_seq_length, settings.doc_stride,
        settings.max_query_length, settings.n_best_size, settings.max_answer_length,
        settings.version_2_with_negative, null_odds_threshold(source, options),
        sub_batch_size=options.sub_batch_size if options.qa_sub_batches else 0,
        length_multiple=options.length_multiple)
