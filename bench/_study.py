"""What the accuracy studies in bench/ share: their command line (the conditions and the data)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

DATA = "../shared/data/"


def study_args(
    doc: str | None,
    conditions: str = "clean,pcmu",
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """``--conditions`` (comma-separated eval conditions) and ``--data`` (the shared datasets);
    ``extra`` adds a study's own options."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conditions", default=conditions)
    parser.add_argument("--data", default=DATA)
    if extra is not None:
        extra(parser)
    return parser.parse_args()
