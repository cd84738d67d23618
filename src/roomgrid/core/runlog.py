"""Send a stage's logging and progress bars to its Snakemake log file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def logged(log_path: str | os.PathLike | None, level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Log to ``log_path`` (and stderr there too, so tqdm progress and tracebacks land in it)."""
    if log_path is None:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        yield logging.getLogger("roomgrid")
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", buffering=1) as stream, contextlib.redirect_stderr(stream):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(level)
        try:
            yield logging.getLogger("roomgrid")
        except BaseException as exc:
            logging.getLogger("roomgrid").exception("stage failed")
            # The traceback stays in the log; Snakemake's own output (the job's real stderr)
            # gets the one sentence that says what went wrong.
            print(f"Error: {exc} (details in {log_path})", file=sys.__stderr__, flush=True)
            raise
        finally:
            root.removeHandler(handler)
            sys.stderr.flush()
