"""Importing TensorFlow without its start-up banner, for the command line.

TensorFlow writes its banner (``All log messages before absl::InitializeLog() is called are
written to STDERR``, ``oneDNN custom operations are on``, CPU instruction and CUDA notices) from
C++ while it is imported, before ``TF_CPP_MIN_LOG_LEVEL`` is read. So the C-level standard error
(file descriptor 2) is captured during the import, and afterwards everything captured that is not
one of those banner lines is written back: real warnings and errors still show. oneDNN stays on
(``TF_ENABLE_ONEDNN_OPTS`` is not touched), so results are those of a plain ``import tensorflow``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

#: Lines TensorFlow prints at every start, whatever the program does.
BANNER_PATTERNS = (
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"oneDNN custom operations are on",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"Could not find cuda drivers on your machine",
    r"computation placer already registered",
    r"TF-TRT Warning: Could not find TensorRT",
    r"failed call to cuInit",
    r"cuda_(dnn|fft|blas|executor|diagnostics)\.cc",
)
_BANNER = re.compile("|".join(BANNER_PATTERNS))


def import_tensorflow_quietly(verbose: bool = False) -> None:
    """Import TensorFlow, dropping its start-up banner from standard error (unless ``verbose``).

    Also sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless already set) for TensorFlow's later C++ logs,
    and the level of its Python logger to errors. Does nothing if TensorFlow is already imported.

    :param verbose: keep every line (the banner included) and TensorFlow's informational logs
    """
    if "tensorflow" in sys.modules:
        return
    if verbose:
        import tensorflow  # noqa: F401

        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
        finally:
            sys.stderr.flush()
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            captured.seek(0)
            _write_without_banner(captured.read().decode("utf-8", errors="replace"))
    tf.get_logger().setLevel("ERROR")


def _write_without_banner(text: str) -> None:
    kept = [line for line in text.splitlines(keepends=True) if not _BANNER.search(line)]
    if kept:
        sys.stderr.write("".join(kept))
        sys.stderr.flush()
