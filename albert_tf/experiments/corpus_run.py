"""The first stages every experiment over one corpus shares: the corpus split into
pretraining and held-out documents, a SentencePiece model with ALBERT's ids, and the
continuation task derived from the same documents."""

import json
from typing import List

from albert_tf.data.pretraining_data import max_predictions_for
from albert_tf.experiments import continuation_task
from albert_tf.experiments.corpus import corpus_identity, read_corpus, write_split_corpus
from albert_tf.experiments.staged_run import Stage, StagedRun
from albert_tf.io_utils import write_atomically


class CorpusRun(StagedRun):
    """A `StagedRun` whose `settings` have `corpus`, `seed`, `vocab_size` and
    `max_seq_length`; subclasses put `corpus_stages()` first and build on `spm_model`."""

    def corpus_stages(self, check_task: bool = True) -> List[Stage]:
        """The corpus and SentencePiece stages; `check_task`: fail on a corpus too small
        for the continuation task before anything trains."""
        s = self.settings
        return [
            Stage("corpus", "documents for pretraining (90%) and held-out evaluation (10%)",
                  ["corpus"], {"corpus": corpus_identity(s.corpus), "seed": s.seed},
                  lambda: self.make_corpus(check_task)),
            Stage("sentencepiece", "a unigram SentencePiece model with ALBERT's ids",
                  ["spm"], {"vocab_size": s.vocab_size}, self.train_sentencepiece),
        ]

    def make_corpus(self, check_task: bool) -> None:
        seed = self.settings.seed

        def check(documents, source):
            if check_task:
                continuation_task.split_task_documents(documents, seed, source=source)

        summary = write_split_corpus(self.settings.corpus, self.path("corpus"), seed, check)
        self.say(f"{summary['documents']} documents, {summary['sentences']} sentences, "
                 f"{summary['words']} words from {summary['source']}")

    def train_sentencepiece(self) -> None:
        self.script("train_sentencepiece", input_file=self.path("corpus", "pretrain.txt"),
                    model_prefix=self.path("spm", "albert"), vocab_size=self.settings.vocab_size)

    def make_continuation_task(self, source: str) -> None:
        """Train/dev/test TSVs of the continuation task in `task/`, from every document."""
        documents = (read_corpus(self.path("corpus", "pretrain.txt"))
                     + read_corpus(self.path("corpus", "heldout.txt")))
        counts = continuation_task.write_continuation_task(
            documents, self.path("task"), self.settings.seed, source=source)
        write_atomically(self.path("task", "counts.json"), json.dumps(counts).encode())
        self.say("examples per split: " + ", ".join(f"{k} {v}" for k, v in counts.items()))

    @property
    def spm_model(self) -> str:
        return self.path("spm", "albert.model")

    @property
    def max_predictions(self) -> int:
        return max_predictions_for(self.settings.max_seq_length)

    def vocabulary_size(self) -> int:
        """Pieces of the trained SentencePiece model (a small corpus supports fewer than
        `vocab_size`)."""
        import sentencepiece

        return sentencepiece.SentencePieceProcessor(model_file=self.spm_model).get_piece_size()
