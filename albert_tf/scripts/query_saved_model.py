r"""Query an exported ALBERT SavedModel with raw text, outside TF Serving.

Needs only `tensorflow` and `tensorflow-text` (what a serving host has): it never imports
albert_tf, so it checks that an export stands on its own, and this one file can be copied
to a serving host and run there. Examples:

    python query_saved_model.py --model_dir=exports/sst-2/1 --text_a="a gorgeous film"
    python query_saved_model.py --model_dir=exports/continuation/1 --input_tsv=task/test.tsv \
        --text_a_column=sentence_a --text_b_column=sentence_b --limit=8 --output_json=q.json

Prints one JSON object per text (or pair): the inputs and every output of the signature.
"""

import argparse
import csv
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def quiet_tensorflow():
    """albert_tf/quiet_tensorflow.py (standard library only), loaded by its path so that
    the albert_tf package is not imported; None where this file was copied alone."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "quiet_tensorflow.py")
    if not os.path.isfile(path):
        return None
    spec = importlib.util.spec_from_file_location("quiet_tensorflow", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model_dir", required=True,
                        help="An export version folder (<export_dir>/<name>/<version>).")
    parser.add_argument("--signature", default="serving_default", help="Signature to call.")
    parser.add_argument("--text_a", action="append", default=[],
                        help="A text to query (repeat the flag for a batch).")
    parser.add_argument("--text_b", action="append", default=[],
                        help="The second text of each pair, for pair models.")
    parser.add_argument("--input_tsv", help="Read the texts from a TSV file with a header.")
    parser.add_argument("--text_a_column", default="sentence", help="--input_tsv column.")
    parser.add_argument("--text_b_column", help="--input_tsv column of the second texts.")
    parser.add_argument("--limit", type=int, default=None, help="First N rows of --input_tsv.")
    parser.add_argument("--output_json", help="Also write the answers to this file.")
    return parser.parse_args(argv)


# The TSV reading and the atomic JSON write below stand in for albert_tf's own helpers on
# purpose: this script must run where albert_tf is not installed.


def read_texts(args):
    """(texts_a, texts_b or None) from the flags or the TSV file."""
    if args.limit is not None and args.limit < 0:
        sys.exit(f"query_saved_model: --limit must be at least 0, got {args.limit}")
    if args.input_tsv:
        try:
            return read_tsv(args)
        except FileNotFoundError:
            sys.exit(f"query_saved_model: --input_tsv {args.input_tsv}: file not found")
        except UnicodeDecodeError as error:
            sys.exit(f"query_saved_model: --input_tsv {args.input_tsv}: not UTF-8 text "
                     f"({error.reason} at byte {error.start}); is it a TSV file?")
        except (OSError, csv.Error) as error:
            sys.exit(f"query_saved_model: --input_tsv {args.input_tsv}: cannot read it "
                     f"({error})")
    if not args.text_a:
        sys.exit("query_saved_model: give --text_a (repeatable) or --input_tsv")
    if args.text_b and len(args.text_b) != len(args.text_a):
        sys.exit(f"query_saved_model: {len(args.text_a)} --text_a but {len(args.text_b)} "
                 "--text_b; give one second text per first text")
    return args.text_a, (args.text_b or None)


def read_tsv(args):
    with open(args.input_tsv, encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, [])
        columns = [args.text_a_column] + ([args.text_b_column] if args.text_b_column else [])
        missing = [name for name in columns if name not in header]
        if missing:
            sys.exit(f"query_saved_model: {args.input_tsv}:1: no column(s) {missing} in "
                     f"the header {header}")
        indexes = [header.index(name) for name in columns]
        picked = []
        limit = args.limit if args.limit is not None else sys.maxsize
        for row in rows:
            if len(picked) >= limit:
                break
            if not row:
                continue
            if len(row) <= max(indexes):
                sys.exit(f"query_saved_model: {args.input_tsv}:{rows.line_num}: "
                         f"{len(row)} column(s), but the header has {len(header)} (needs "
                         f"column {max(indexes) + 1})")
            picked.append([row[i] for i in indexes])
    texts_a = [row[0] for row in picked]
    return texts_a, ([row[1] for row in picked] if args.text_b_column else None)


def query(model_dir, signature, texts_a, texts_b):
    """Calls the signature once on the whole batch; returns one dict per input."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  registers the SentencePiece ops of the text signature

    try:
        model = tf.saved_model.load(model_dir)
    except (OSError, ValueError, tf.errors.OpError) as error:
        reason = str(getattr(error, "message", error)).splitlines()[0][:300]
        sys.exit(f"query_saved_model: --model_dir {model_dir}: not a loadable SavedModel "
                 f"({reason}); is the export complete?")
    if signature not in model.signatures:
        sys.exit(f"query_saved_model: {model_dir} has no signature {signature!r}; it has "
                 f"{sorted(model.signatures)}")
    function = model.signatures[signature]
    expected = sorted(function.structured_input_signature[1])
    inputs = {"text_a": tf.constant(texts_a, tf.string)}
    if texts_b is not None:
        inputs["text_b"] = tf.constant(texts_b, tf.string)
    if sorted(inputs) != expected:
        sys.exit(f"query_saved_model: signature {signature!r} takes {expected}, but the "
                 f"texts given make {sorted(inputs)}"
                 + ("; give --text_b (or --text_b_column) for a pair model"
                    if expected == ["text_a", "text_b"] else "")
                 + ("; this script sends raw text: pick a text signature"
                    if "text_a" not in expected else ""))
    try:
        outputs = function(**inputs)
    except tf.errors.InvalidArgumentError as error:
        sys.exit(f"query_saved_model: the model refused the request: "
                 f"{error.message.splitlines()[0]}")
    answers = []
    for row in range(len(texts_a)):
        answer = {"text_a": texts_a[row]}
        if texts_b is not None:
            answer["text_b"] = texts_b[row]
        for name, value in sorted(outputs.items()):
            item = value[row].numpy()
            answer[name] = (item.decode("utf-8") if isinstance(item, bytes)
                            else item.tolist())
        answers.append(answer)
    return answers


def check_output_path(path):
    """Before the model is loaded: the answers can be written where asked."""
    target = os.path.abspath(path)
    if os.path.isdir(target):
        sys.exit(f"query_saved_model: --output_json {path}: is a folder, not a file")
    parent = os.path.dirname(target)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        sys.exit(f"query_saved_model: --output_json {path}: {parent} is a file, not a folder")


def write_json(path, payload):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".query.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=2, ensure_ascii=False)
            out.write("\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600; a plain open() would not
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


def main(argv=None, filter_stderr=False):
    args = parse_args(argv)
    quiet = quiet_tensorflow()
    if quiet is not None:
        if filter_stderr:
            quiet.filter_native_stderr()
        quiet.import_quietly()
    if not os.path.isfile(os.path.join(args.model_dir, "saved_model.pb")):
        sys.exit(f"query_saved_model: --model_dir {args.model_dir}: no saved_model.pb there "
                 "(give the version folder, e.g. exports/sst-2/1)")
    if args.output_json:
        check_output_path(args.output_json)
    texts_a, texts_b = read_texts(args)
    answers = query(args.model_dir, args.signature, texts_a, texts_b)
    for answer in answers:
        print(json.dumps(answer, ensure_ascii=False))
    if args.output_json:
        write_json(args.output_json, {
            "model_dir": args.model_dir, "signature": args.signature, "answers": answers,
            # The proof that the export needs nothing of this project to run.
            "albert_tf_imported": any(name.split(".")[0] == "albert_tf"
                                      for name in sys.modules)})


def run():
    """The `albert-query` command."""
    main(filter_stderr=True)


if __name__ == "__main__":
    main(filter_stderr=True)
