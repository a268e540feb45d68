"""Runs albert_tf/scripts/query_saved_model.py (also the `albert-query` command): query an
exported SavedModel with raw text. The file is loaded by path, so this process imports
only TensorFlow and tensorflow-text, never the albert_tf package: what a serving host has.
"""

import os
import runpy

if __name__ == "__main__":
    runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "albert_tf",
                                "scripts", "query_saved_model.py"), run_name="__main__")
