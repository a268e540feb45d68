"""Runs many bad-input cases of one entry script in one process (TensorFlow is imported
once, not once per case) and prints what each ended in, as JSON.

    python tests/bad_input_driver.py run_pretraining < cases.json

Each case is {"id", "argv"}. A case ends in `status` (what the script's process would
exit with), `message` (its error line and stderr) and `traceback` (an exception escaped
the script: in a real run, a Python traceback). absl scripts are run as `app.run` runs
them: flags parsed (a flag error is a usage error, status 1), then `main`.
"""

import contextlib
import importlib
import io
import json
import os
import sys
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_case(module, script: str, argv):
    from absl import app, flags

    captured = io.StringIO()
    status, message, escaped = 0, "", False
    with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(io.StringIO()):
        try:
            if script == "query_saved_model":  # argparse, not absl
                module.main(argv)
            else:
                flags.FLAGS.unparse_flags()
                module.run.absl_main(flags.FLAGS([script] + argv))
        except SystemExit as exit_:
            code = exit_.code
            status = code if isinstance(code, int) else (0 if code is None else 1)
            message = code if isinstance(code, str) else ""
        except (flags.Error, app.UsageError) as error:
            status, message = 1, f"usage error: {error}"
        except BaseException as error:  # what would have been a traceback
            status, escaped = 1, True
            message = "".join(traceback.format_exception(error))[-3000:]
    return {"status": status, "message": message, "stderr": captured.getvalue()[-3000:],
            "traceback": escaped}


def main():
    script = sys.argv[1]
    cases = json.load(sys.stdin)
    sys.path.insert(0, ROOT)
    os.chdir(ROOT)
    module = importlib.import_module(f"albert_tf.scripts.{script}")
    results = {}
    for case in cases:
        results[case["id"]] = run_case(module, script, case["argv"])
        import keras  # a case that got as far as building a model may change the policy

        keras.mixed_precision.set_global_policy("float32")
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
