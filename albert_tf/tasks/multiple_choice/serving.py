"""The export of a fine-tuned multiple-choice (RACE) model: `serving_default` takes raw
`article`, `question` and `options` and returns each choice's probability and the chosen
letter, as run_race predicts; `serve_ids` takes packed features. `encoder_only` exports
its encoder instead."""

from albert_tf.export.multiple_choice import MultipleChoiceServingModule
from albert_tf.export.saved_model import ExportError, restore_for_serving
from albert_tf.models.multiple_choice import AlbertMultipleChoice
from albert_tf.tasks.pretraining.serving import encoder_module

EXPORT_SETTINGS = ("max_seq_length",)


def default_model_name(settings) -> str:
    return "race"


def load_multiple_choice_model(config, checkpoint: str, num_choices: int,
                               dtype: str = "float32") -> AlbertMultipleChoice:
    """The run's model with every weight read from `checkpoint` (its best weights first)."""
    model = AlbertMultipleChoice(config, num_choices, dropout_rate=0.0, dtype=dtype)
    return restore_for_serving(model, checkpoint, "init_checkpoint",
                               f"a multiple-choice model with {num_choices} choices")


def serving_module(source, options):
    if options.encoder_only:
        return encoder_module(source, options)
    if not options.text_signatures:
        raise ExportError("a multiple-choice export always has its raw-text signature; "
                          "leave out --notext_signatures")
    settings = source.settings
    model = load_multiple_choice_model(settings.albert_config, source.checkpoint,
                                       settings.num_choices, options.precision)
    return MultipleChoiceServingModule(model, source.tokenizer, settings.max_seq_length,
                                       settings.max_qa_length, settings.letters)
