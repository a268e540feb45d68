"""albert-tf: ALBERT (A Lite BERT) for TensorFlow 2 / Keras 3."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
MATPLOTLIB = "matplotlib>=3.8,<4"
KERAS_HUB = "keras-hub>=0.32,<0.33"

setup(
    name="albert_tf",
    version="0.1.0",
    description="ALBERT (A Lite BERT) in TensorFlow 2 / Keras 3: pretrain, fine-tune, export, serve",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["albert_tf", "albert_tf.*"]),
    # The entry scripts are albert_tf.scripts.* (the top-level files of a checkout are
    # thin wrappers): installing adds commands, not top-level modules.
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tensorflow-text>=2.21,<2.22",
        "keras>=3.10,<4",
        "sentencepiece>=0.2,<0.3",
        "safetensors>=0.4,<1",  # validated reading of Hugging Face weights
        "google-crc32c>=1.5,<2",  # TFRecord frames written without importing TensorFlow
        "tensorboard>=2.20",
        "tensorflow-serving-api>=2.21,<2.22",
        "absl-py>=2.0,<3",
        "numpy>=1.26,<3",
        "jieba>=0.42,<0.43",  # Chinese whole-word masking (word_segmentation.py)
        "nltk>=3.9,<4",  # CMRC 2018's official F1 tokenizes with nltk.word_tokenize
    ],
    # Only what the library imports is required. The plots of the demo's report,
    # analyze_model and run_ablation need matplotlib; keras-hub presets (export_model
    # --format=keras_hub, convert_checkpoint of a preset) and the benchmarks need keras-hub
    # (keras-nlp is now an alias of it and nothing imports it). The tests cover the demo
    # and the presets, so they take both (keras-hub installs in about 15 s).
    extras_require={
        "demo": [MATPLOTLIB],
        "keras_hub": [KERAS_HUB],
        "benchmarks": [KERAS_HUB],
        # Two workers, a file each (pytest.ini): the suite in about 60% of the time on 2 cores.
        "test": ["pytest>=8,<10", "pytest-xdist>=3.5,<4", MATPLOTLIB, KERAS_HUB],
    },
    entry_points={
        "console_scripts": [
            "albert-params=albert_tf.scripts.albert_params:run",
            "albert-train-spm=albert_tf.scripts.train_sentencepiece:run",
            "albert-create-pretraining-data=albert_tf.scripts.create_pretraining_data:run",
            "albert-pretrain=albert_tf.scripts.run_pretraining:run",
            "albert-classify=albert_tf.scripts.run_classifier:run",
            "albert-squad=albert_tf.scripts.run_squad:run",
            "albert-race=albert_tf.scripts.run_race:run",
            "albert-export=albert_tf.scripts.export_model:run",
            "albert-query=albert_tf.scripts.query_saved_model:run",
            "albert-convert=albert_tf.scripts.convert_checkpoint:run",
            "albert-demo=albert_tf.scripts.run_demo:run",
            "albert-analyze=albert_tf.scripts.analyze_model:run",
            "albert-ablation=albert_tf.scripts.run_ablation:run",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
