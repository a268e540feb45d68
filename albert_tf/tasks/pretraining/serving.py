"""The export of a pretrained encoder: `encode` (ids), and with its tokenizer the raw-text
`serving_default` / `encode_text_pair`, returning pooled and sequence outputs."""

from albert_tf.export.saved_model import ExportError, ServingModule, load_serving_model

# Settings of the run that an export may set otherwise.
EXPORT_SETTINGS = ("max_seq_length",)


def default_model_name(settings) -> str:
    return "albert_encoder"


def encoder_module(source, options) -> ServingModule:
    """The encoder of any run (`source.checkpoint`: a pretraining run's, or a fine-tuned
    model's encoder) as a ServingModule."""
    settings = source.settings
    if options.text_signatures and source.tokenizer is None:
        raise ExportError(f"{source.checkpoint} keeps no tokenizer, which the raw-text "
                          "signatures need: pass --spm_model_file or --vocab_file, or "
                          "--notext_signatures for an ids-only export")
    model = load_serving_model(settings.albert_config, source.checkpoint, None,
                               dtype=options.precision)
    return ServingModule(model, source.tokenizer, settings.max_seq_length,
                         text_signatures=options.text_signatures,
                         sub_batch_size=options.sub_batch_size,
                         length_multiple=options.length_multiple)


serving_module = encoder_module
