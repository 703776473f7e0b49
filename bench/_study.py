"""What the accuracy studies in bench/ share: their command line (the conditions and the data)."""

from __future__ import annotations

import argparse

DATA = "../shared/data/"


def study_args(doc: str | None, conditions: str = "clean,pcmu") -> argparse.Namespace:
    """``--conditions`` (comma-separated eval conditions) and ``--data`` (the shared datasets)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conditions", default=conditions)
    parser.add_argument("--data", default=DATA)
    return parser.parse_args()
