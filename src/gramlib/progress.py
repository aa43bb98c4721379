"""Progress bars that stay out of rendered notebooks.

``GRAMLIB_PROGRESS`` chooses where bars go:

* unset: tqdm's default (``tqdm.auto``: a widget in Jupyter, text on stderr elsewhere);
* ``terminal``: the controlling terminal (``/dev/tty``), so a pipeline run under
  ``dvc repro`` shows bars in the terminal while the notebook papermill renders
  gets none; without a terminal (CI, nohup) there are no bars;
* ``off``: no bars.

:func:`gramlib.pipeline.run_notebook` sets ``terminal`` for the kernels it starts.
"""

from __future__ import annotations

import os
from typing import Any

_TTY: Any = None


def _terminal():
    global _TTY
    if _TTY is None:
        try:
            _TTY = open("/dev/tty", "w")  # noqa: SIM115 - kept open for the process's bars
        except OSError:
            _TTY = False
    return _TTY or None


def progress_bar(*args: Any, **kwargs: Any):
    """``tqdm(*args, **kwargs)`` routed by ``GRAMLIB_PROGRESS`` (see the module docstring)."""
    mode = os.environ.get("GRAMLIB_PROGRESS", "").strip().lower()
    if mode in ("", "auto"):
        from tqdm.auto import tqdm

        return tqdm(*args, **kwargs)
    from tqdm import tqdm

    if mode == "off":
        kwargs["disable"] = True
    elif mode == "terminal":
        tty = _terminal()
        if tty is None:
            kwargs["disable"] = True
        else:
            kwargs["file"] = tty
    else:
        raise ValueError(f"GRAMLIB_PROGRESS must be unset, auto, terminal or off, got {mode!r}")
    return tqdm(*args, **kwargs)
