r"""Layer transitions of trained encoders (the ALBERT paper's Figure 2).

For each checkpoint, and for every layer, the mean L2 distance and cosine similarity
between the layer's input and output hidden states over the real tokens of a text;
writes `<output_dir>/layer_transitions.json` and `layer_transitions.png` (one line per
checkpoint). Checkpoints: run folders of run_pretraining or run_classifier (a fine-tuning
run's best weights), checkpoint prefixes, or convert_checkpoint output folders. Examples:

    python analyze_model.py --init_checkpoint=runs/shared,runs/not_shared \
        --labels='sharing=all,sharing=none' --input_file=corpus/heldout.txt \
        --output_dir=analysis
    python analyze_model.py --init_checkpoint=converted/base_v2 \
        --spm_model_file=converted/base_v2/30k-clean.model --input_file=wiki.txt \
        --output_dir=analysis/base_v2
    python analyze_model.py --init_checkpoint=runs/pretrain \
        --record_file='data/heldout.tfrecord' --output_dir=analysis
"""

import os

from absl import flags, logging

from albert_tf.cli.script import entry_point  # first: it quiets TensorFlow's C++ logs

flags.DEFINE_list("init_checkpoint", None, "Checkpoints to compare (comma-separated): run "
                  "folders, checkpoint prefixes or converted folders.", required=True)
flags.DEFINE_list("labels", None, "A name per checkpoint for the plot and the JSON "
                  "(default: the folder names).")
flags.DEFINE_list("albert_config_file", None, "albert_config.json: one for all checkpoints "
                  "or one each (default: the one in each checkpoint's folder).")
flags.DEFINE_string("input_file", None, "Text (comma-separated globs) in the pretraining "
                    "format: one sentence per line, blank lines between documents.")
flags.DEFINE_string("record_file", None, "Pretraining TFRecords (comma-separated globs) "
                    "instead of text; the ids must be the models' vocabulary.")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model for --input_file (default: "
                    "each run folder's own copy; given for a run folder, it must be the "
                    "run's).")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt for --input_file (the Chinese "
                    "releases).")
flags.DEFINE_bool("do_lower_case", None, "Lower-case the text (default: as the run "
                  "recorded, else true).")
flags.DEFINE_integer("max_seq_length", None, "Tokens per analyzed sequence with --input_"
                     "file (default: 128, or the model's max_position_embeddings when "
                     "shorter; records keep their own length).")
flags.DEFINE_integer("max_sequences", 512, "Sequences analyzed (the first ones).")
flags.DEFINE_integer("batch_size", 32, "Sequences per forward pass.")
flags.DEFINE_string("output_dir", None, "Where the JSON and the PNG go.", required=True)

RESULTS_NAME = "layer_transitions.json"
PLOT_NAME = "layer_transitions.png"


def config_for(values, index: int, checkpoint: str):
    from albert_tf.checkpoints.layout import RunLayout
    from albert_tf.checkpoints.warm_start import resolve_checkpoint
    from albert_tf.config import AlbertConfig, ConfigError
    from albert_tf.tasks.run_folder import find_run, folder_of

    given = values.albert_config_file or []
    if given and len(given) not in (1, len(values.init_checkpoint)):
        raise ConfigError(f"--albert_config_file: give one file or one per checkpoint "
                          f"({len(values.init_checkpoint)}), got {len(given)}")
    if given:
        return AlbertConfig.from_json_file(given[index if len(given) > 1 else 0])
    resolve_checkpoint(checkpoint)  # a missing checkpoint is named as such first
    run = find_run(checkpoint)
    if run is not None:
        return run.config
    path = RunLayout(folder_of(checkpoint)).config_file
    if not os.path.isfile(path):
        raise ConfigError(f"--init_checkpoint {checkpoint}: no albert_config.json in "
                          f"{folder_of(checkpoint)}; pass --albert_config_file")
    return AlbertConfig.from_json_file(path)


def tokenizer_for(values, checkpoint: str):
    from albert_tf.analysis.layer_transitions import AnalysisError
    from albert_tf.data.tokenizers import load_tokenizer
    from albert_tf.tasks.run_folder import find_run

    run = find_run(checkpoint)
    if run is not None:
        tokenizer = run.tokenizer(values.spm_model_file, values.vocab_file,
                                  values.do_lower_case)
        if tokenizer is not None:
            return tokenizer
    elif values.spm_model_file or values.vocab_file:
        return load_tokenizer(values.spm_model_file, values.vocab_file,
                              True if values.do_lower_case is None else values.do_lower_case)
    raise AnalysisError(f"--init_checkpoint {checkpoint}: its folder keeps no tokenizer; "
                        "pass --spm_model_file or --vocab_file for --input_file")


def main(values):
    from albert_tf.analysis.layer_transitions import (AnalysisError, batch_sequences,
                                                      check_ids_fit, layer_transitions,
                                                      plot_transitions, record_batches,
                                                      text_sequences)
    from albert_tf.checkpoints.warm_start import resolve_checkpoint
    from albert_tf.data.corpus import CorpusStats, read_documents
    from albert_tf.data.files import expand_file_patterns
    from albert_tf.data.pretraining_dataset import recorded_lengths
    from albert_tf.export.saved_model import load_serving_model
    from albert_tf.io_utils import check_writable
    from albert_tf.training.outputs import write_json

    check_writable(values.output_dir, "output_dir")
    if bool(values.input_file) == bool(values.record_file):
        raise AnalysisError("give exactly one of --input_file (text) and --record_file")
    for name, least in (("max_seq_length", 3), ("max_sequences", 1), ("batch_size", 1)):
        if values[name].value is not None and values[name].value < least:
            raise AnalysisError(f"--{name} must be at least {least}, got "
                                f"{values[name].value}")
    checkpoints = values.init_checkpoint
    for checkpoint in checkpoints:  # before their config and tokenizer are looked for
        resolve_checkpoint(checkpoint)
    labels = values.labels or [os.path.basename(os.path.normpath(path)) for path in checkpoints]
    if len(labels) != len(checkpoints) or len(set(labels)) != len(labels):
        raise AnalysisError(f"--labels: give {len(checkpoints)} distinct names, one per "
                            f"checkpoint; got {labels}")
    if values.record_file:
        record_files = expand_file_patterns(values.record_file, "record_file")
        lengths = recorded_lengths(record_files)
        if lengths is None:
            raise AnalysisError(f"--record_file: {record_files[0]} has no create_pretraining_"
                                "data manifest giving its lengths")
    else:
        text_files = expand_file_patterns(values.input_file, "input_file")

    if values.record_file:  # at most --max_sequences: read once for every checkpoint
        source = values.record_file
        record_cache = list(record_batches(record_files, lengths["max_seq_length"],
                                           lengths["max_predictions_per_seq"],
                                           values.batch_size, values.max_sequences))
    else:
        source = values.input_file
    # Checkpoints with the same tokenizer and length share one tokenization of the text.
    text_cache = {}
    results, summary = {}, {}
    for index, (label, checkpoint) in enumerate(zip(labels, checkpoints)):
        config = config_for(values, index, checkpoint)
        if values.record_file:
            batches = record_cache
        else:
            max_seq_length = values.max_seq_length or min(128, config.max_position_embeddings)
            if max_seq_length > config.max_position_embeddings:
                raise AnalysisError(f"--max_seq_length={max_seq_length} is longer than "
                                    f"{label}'s max_position_embeddings "
                                    f"({config.max_position_embeddings})")
            tokenizer = tokenizer_for(values, checkpoint)
            key = (tokenizer.model_sha256, tokenizer.lower_case, max_seq_length)
            if key not in text_cache:
                documents = (document for path in text_files
                             for document in read_documents(path, CorpusStats()))
                text_cache[key] = list(batch_sequences(
                    text_sequences(documents, tokenizer, max_seq_length, values.max_sequences),
                    values.batch_size, tokenizer.special_ids.pad))
            batches = text_cache[key]
        encoder = load_serving_model(config, checkpoint, None)
        result = layer_transitions(encoder, check_ids_fit(batches, config.vocab_size, source))
        results[label] = result
        summary[label] = {"checkpoint": checkpoint, "sharing": config.sharing,
                          "embedding_size": config.embedding_size,
                          "hidden_size": config.hidden_size, "tokens": result.tokens,
                          "sequences": result.sequences, "layers": result.as_rows()}
        logging.info("%s: %d sequences, %d tokens; L2 %s; cosine %s", label,
                     result.sequences, result.tokens,
                     " ".join(f"{v:.3f}" for v in result.l2_distance),
                     " ".join(f"{v:.3f}" for v in result.cosine_similarity))
    write_json(os.path.join(values.output_dir, RESULTS_NAME),
               {"text": values.input_file or values.record_file, "models": summary})
    plot_transitions(results, os.path.join(values.output_dir, PLOT_NAME),
                     "Input/output embedding transitions per layer")
    print(os.path.join(values.output_dir, RESULTS_NAME))


run = entry_point("analyze_model", main)

if __name__ == "__main__":
    run()
