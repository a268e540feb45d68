"""Every path inside a run folder, in one place, and the rules for what a run folder may
point at.

A run folder (`--output_dir` of run_pretraining / run_classifier / run_squad) holds
everything needed to resume, evaluate, analyze and export it:

    albert_config.json     the model's config, written once, checked on every resume
    run_settings.json      the run's typed settings, its tokenizer's sha256, what it was
                           trained on (checked on resume) and its phases
    assets/                the tokenizer: spiece.model (SentencePiece) or vocab.txt
                           (WordPiece), copied in at the start
    checkpoints/ckpt-N     the training checkpoints (model, optimizer, step)
    best/model             fine-tuning: the weights of the best evaluation
    encoder/encoder        pretraining: the encoder alone, for warm starts
    eval_results.json      fine-tuning: the evaluation results
    eval_results_<set>.json  pretraining: the evaluation on one eval set
    train/                 TensorBoard summaries of training
    eval_<set>/            TensorBoard summaries of the evaluations (dev, eval sets)
    data/                  fine-tuning: the tokenized splits (a cache)
    scratch/<task>_<id>/   checkpoints of non-chief workers (never read back)
    .lock                  locked by the process writing the folder (its pid inside)

A path recorded in a run folder that the folder's readers open (the tokenizer) is
relative to the folder and resolved only inside it (`resolve_inside`): a copied or moved
folder keeps working, and a recorded path that leads elsewhere is refused. Paths the run
was given for its inputs (data, init checkpoint) are recorded as a description; nothing
opens them.

Example:

>>> layout = RunLayout("runs/mrpc")
>>> layout.best_prefix, layout.encoder_prefix
('runs/mrpc/best/model', 'runs/mrpc/encoder/encoder')
>>> layout.resolve_inside("../../etc/passwd", "spm_model_file")
Traceback (most recent call last):
...
albert_tf.checkpoints.layout.RunFolderError: runs/mrpc/run_settings.json: spm_model_file '../../etc/passwd' leads outside the run folder; a run folder's files are only read from inside it
"""

import dataclasses
import json
import os
import shutil
from typing import Dict, Optional

from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import atomic_path, file_sha256, write_atomically

SETTINGS_FORMAT = 2  # run_settings.json layout; folders written before it have no "format"
ASSETS_DIR = "assets"
# The settings that name the tokenizer, and its file name inside `assets/` (the names
# Hugging Face uses).
TOKENIZER_ASSET_NAMES = {"spm_model_file": "spiece.model", "vocab_file": "vocab.txt"}
TOKENIZER_FIELDS = tuple(TOKENIZER_ASSET_NAMES)
# Where folders written before SETTINGS_FORMAT 2 kept their tokenizer's sha256 (run.json).
LEGACY_SHA_KEYS = ("spm_model_sha256", "vocab_sha256")


class RunFolderError(AlbertTfError, ValueError):
    """A run folder file that cannot be read or points outside the folder; the message
    names it."""


@dataclasses.dataclass(frozen=True)
class RunLayout:
    """The paths of one run folder."""

    output_dir: str

    def _path(self, *parts: str) -> str:
        return os.path.join(self.output_dir, *parts)

    @property
    def config_file(self) -> str:
        return self._path("albert_config.json")

    @property
    def legacy_identity_file(self) -> str:
        """`run.json`: what folders written before SETTINGS_FORMAT 2 recorded of their
        tokenizer and task (now in run_settings.json)."""
        return self._path("run.json")

    @property
    def lock_file(self) -> str:
        """`.lock`: held (flock) by the one process writing the folder."""
        return self._path(".lock")

    @property
    def settings_file(self) -> str:
        return self._path("run_settings.json")

    @property
    def results_file(self) -> str:
        return self._path("eval_results.json")

    def eval_set_results_file(self, name: str) -> str:
        """Pretraining: the results of evaluating on the eval set `name`."""
        return self._path(f"eval_results_{name}.json")

    @property
    def checkpoint_dir(self) -> str:
        return self._path("checkpoints")

    @property
    def best_prefix(self) -> str:
        return self._path("best", "model")

    @property
    def encoder_prefix(self) -> str:
        return self._path("encoder", "encoder")

    @property
    def train_logs(self) -> str:
        return self._path("train")

    def eval_logs(self, name: str) -> str:
        """TensorBoard summaries of the evaluations on `name` (dev, an eval set)."""
        return self._path(f"eval_{name}")

    @property
    def data_cache_dir(self) -> str:
        return self._path("data")

    @property
    def assets_dir(self) -> str:
        return self._path(ASSETS_DIR)

    def scratch_dir(self, task_type: str, task_id: int) -> str:
        return self._path("scratch", f"{task_type}_{task_id}")

    # -- files the folder owns -------------------------------------------------------------

    def resolve_inside(self, recorded: str, what: str) -> str:
        """The path of `recorded` (relative to the folder) when it names a file inside the
        folder, symbolic links followed; anything else is a RunFolderError naming `what`."""
        if not isinstance(recorded, str) or not recorded or os.path.isabs(recorded):
            raise RunFolderError(f"{self.settings_file}: {what} {recorded!r} is not a path "
                                 "inside the run folder; a run folder's files are only read "
                                 "from inside it")
        root = os.path.realpath(self.output_dir)
        target = os.path.realpath(os.path.join(root, recorded))
        if os.path.commonpath([root, target]) != root:
            raise RunFolderError(f"{self.settings_file}: {what} {recorded!r} leads outside "
                                 "the run folder; a run folder's files are only read from "
                                 "inside it")
        return os.path.join(self.output_dir, recorded)

    def store_tokenizer(self, source_file: str, setting: str, sha256: str) -> str:
        """Copies the tokenizer file into `assets/` (atomically; kept when the copy there
        is already this file) and returns its path relative to the folder."""
        target = os.path.join(self.assets_dir, TOKENIZER_ASSET_NAMES[setting])
        relative = os.path.relpath(target, self.output_dir)
        if os.path.isfile(target) and file_sha256(target) == sha256:
            return relative
        with atomic_path(target) as temp_path:
            shutil.copyfile(source_file, temp_path)
            if file_sha256(temp_path) != sha256:
                raise RunFolderError(f"{source_file} changed while it was copied to {target}")
        return relative

    # -- run_settings.json -----------------------------------------------------------------

    def write_record(self, record: Dict[str, object]) -> None:
        """Writes run_settings.json (a JSON object; see `tasks/run_folder.py`) atomically."""
        text = json.dumps({"format": SETTINGS_FORMAT, **record}, indent=2)
        write_atomically(self.settings_file, (text + "\n").encode())

    def read_record(self) -> Optional[Dict[str, object]]:
        """run_settings.json as written, or None when the folder has none."""
        return self._read_json(self.settings_file)

    def read_results(self) -> Optional[Dict[str, object]]:
        """eval_results.json, or None when the folder has none."""
        return self._read_json(self.results_file)

    def read_legacy_identity(self) -> Optional[Dict[str, object]]:
        """run.json of a folder written before SETTINGS_FORMAT 2 (its tokenizer's sha256
        under `tokenizer_sha256`, as format 2 names it), or None."""
        identity = self._read_json(self.legacy_identity_file)
        if identity is None:
            return None
        for key in LEGACY_SHA_KEYS:
            if key in identity:
                identity["tokenizer_sha256"] = identity.pop(key)
        return identity

    def _read_json(self, path: str) -> Optional[Dict[str, object]]:
        if not os.path.exists(path):
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                values = json.load(handle)
        except (OSError, ValueError) as error:
            raise RunFolderError(f"{path}: unreadable ({error}); is this a run folder of "
                                 "run_pretraining, run_classifier or run_squad?") from None
        if not isinstance(values, dict):
            raise RunFolderError(f"{path}: expected a JSON object, not "
                                 f"{type(values).__name__}")
        return values
