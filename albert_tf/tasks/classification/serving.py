"""The export of a fine-tuned classifier or regressor: raw text (`text_a`, and `text_b`
for a pair task) in `serving_default`, ids in `serve_ids`; logits, probabilities and the
label strings (a regressor: its score). `encoder_only` exports its encoder instead."""

from albert_tf.export.saved_model import ServingModule, load_serving_model
from albert_tf.tasks.pretraining.serving import encoder_module

EXPORT_SETTINGS = ("max_seq_length",)


def default_model_name(settings) -> str:
    return settings.task.name.lower()


def serving_module(source, options) -> ServingModule:
    if options.encoder_only:
        return encoder_module(source, options)
    settings = source.settings
    task = settings.task
    model = load_serving_model(settings.albert_config, source.checkpoint, task.num_outputs,
                               dtype=options.precision)
    return ServingModule(model, source.tokenizer, settings.max_seq_length, task.labels,
                         text_pair=task.text_b is not None,
                         text_signatures=options.text_signatures,
                         sub_batch_size=options.sub_batch_size,
                         length_multiple=options.length_multiple)
