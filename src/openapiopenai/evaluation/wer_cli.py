"""The WER part of ``openapiopenai eval``: folders with a ``transcripts.csv``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from openapiopenai.turns.config import TurnDetectionConfig

if TYPE_CHECKING:
    from openapiopenai.asr import Transcriber

__all__ = ["report_wer", "wer_folders"]


def wer_folders(args: argparse.Namespace) -> tuple[list[str], Transcriber] | None:
    """The folders of ``args.folders`` that have a ``transcripts.csv`` and the transcriber to
    score them with; None (after saying why on stderr) when there is nothing to do."""
    from openapiopenai.asr import load_transcriber, unavailable_reason
    from openapiopenai.evaluation.wer import has_transcripts

    folders = [f for f in args.folders if has_transcripts(f)]
    if not folders:
        return None
    reason = unavailable_reason(args.transcription_model)
    if reason is not None:
        print(f"openapiopenai eval: no WER: {reason}", file=sys.stderr)
        return None
    return folders, load_transcriber(args.transcription_model)


def report_wer(args: argparse.Namespace, config: TurnDetectionConfig) -> int:
    """Turn-by-turn vs whole-file WER per folder that has transcripts (see ``evaluation.wer``)."""
    from tqdm import tqdm

    from openapiopenai.evaluation.wer import evaluate_folder, table

    found = wer_folders(args)
    if found is None:
        return 0
    folders, transcriber = found
    results = []
    for folder in folders:
        hide = args.no_progress or None
        with tqdm(unit="file", desc=f"WER {folder}", file=sys.stderr, disable=hide) as bar:
            results.append(
                evaluate_folder(
                    folder,
                    transcriber,
                    config,
                    backend=args.backend,
                    limit_files=args.limit_files,
                    progress=lambda _: bar.update(1),
                )
            )
    if args.json:
        for result in results:
            print(json.dumps(result.row()))
    else:
        print()
        print("word error rate (Whisper English normaliser; corpus WER = errors / reference words)")
        print(table(results))
    return 0
