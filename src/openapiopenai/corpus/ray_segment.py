"""``openapiopenai segment`` on Ray Data: a corpus of audio files -> one Parquet of speech segments.

One ``map_batches`` stage over a dataset of file paths. Its callable is a class, so Ray runs it
as a pool of actors and each actor loads the speech model once (``__init__``) and then scores
batch after batch of files with ``corpus.files.detect_file``, the very function ``openapiopenai
detect`` runs: the segments are the single-process segments. The driver writes one Parquet file
with ``file, start_s, end_s``, files in input order, segments in time order.

Ray is the optional ``openapiopenai[ray]`` extra; nothing here imports it at module level. On a
cluster (``--ray-address``) every worker needs openapiopenai installed and the audio paths must
resolve on the workers (shared storage); see ``docs/corpus.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from openapiopenai.corpus.files import detect_file
from openapiopenai.exceptions import ConfigError
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import AUTO

__all__ = ["COLUMNS", "Segmenter", "segment_corpus"]

COLUMNS: Final = ("file", "start_s", "end_s")


class Segmenter:
    """The Ray Data actor: the model loaded once, then batches of files -> rows of segments."""

    def __init__(
        self,
        config: TurnDetectionConfig,
        model: str = AUTO,
        input_format: str = "pcm",
        skip_errors: bool = False,
    ) -> None:
        from openapiopenai.vad.registry import load_model

        self.skip_errors = skip_errors
        self.config = config
        self.model = model
        self.input_format = input_format
        speech = load_model(model)
        warm = getattr(speech, "block_session", None)
        if warm is not None:  # build or read the block graph now, not inside the first batch
            warm(16_000)

    def __call__(self, batch: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
        files: list[str] = []
        order: list[int] = []
        starts: list[float] = []
        ends: list[float] = []
        errors: list[str] = []
        for index, path in zip(batch["index"].tolist(), batch["file"].tolist(), strict=True):
            try:
                result = detect_file(str(path), self.config, model=self.model, input_format=self.input_format)
            except (OSError, RuntimeError, ValueError) as exc:  # unreadable audio (soundfile, soxr)
                if not self.skip_errors:
                    raise
                order.append(index)
                files.append(str(path))
                starts.append(float("nan"))
                ends.append(float("nan"))
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            for segment in result.segments:
                order.append(index)
                files.append(str(path))
                starts.append(segment.start_s)
                ends.append(segment.end_s)
                errors.append("")
        return {
            "index": np.array(order, dtype=np.int64),
            "file": np.array(files, dtype=object),
            "start_s": np.array(starts, dtype=np.float64),
            "end_s": np.array(ends, dtype=np.float64),
            "error": np.array(errors, dtype=object),
        }


def segment_corpus(
    paths: Sequence[str],
    output: str | Path,
    config: TurnDetectionConfig | None = None,
    *,
    model: str = AUTO,
    input_format: str = "pcm",
    address: str | None = None,
    actors: int | None = None,
    batch_size: int = 4,
    skip_errors: bool = False,
) -> tuple[int, list[tuple[str, str]]]:
    """Segment ``paths`` on Ray (the running one, ``address``, or a new local one); write
    ``output`` (Parquet) and return its number of rows, and the files that could not be read
    with why (only with ``skip_errors``; otherwise the first such file fails the job)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
        import ray

        ray_api: Any = ray  # partly typed; used through Any
    except ImportError as exc:
        raise ConfigError("openapiopenai segment needs Ray Data: pip install 'openapiopenai[ray]'") from exc
    if not paths:
        raise ConfigError("No audio files to segment.")
    started = not ray_api.is_initialized()
    if started:
        ray_api.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        workers = actors or max(1, int(ray_api.cluster_resources().get("CPU", 1)))
        items = [{"index": i, "file": str(p)} for i, p in enumerate(paths)]
        dataset: Any = ray_api.data.from_items(items, override_num_blocks=max(1, len(items) // batch_size))
        segments = dataset.map_batches(
            Segmenter,
            fn_constructor_kwargs={
                "config": config or TurnDetectionConfig(),
                "model": model,
                "input_format": input_format,
                "skip_errors": skip_errors,
            },
            batch_size=batch_size,
            concurrency=min(workers, len(items)),
            num_cpus=1,
        )
        tables = [t for t in segments.iter_batches(batch_format="pyarrow", batch_size=None) if t.num_rows]
    finally:
        if started:
            ray_api.shutdown()
    schema = pa.schema([("file", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64())])
    failed: list[tuple[str, str]] = []
    if tables:
        table = pa.concat_tables(tables).sort_by([("index", "ascending"), ("start_s", "ascending")])
        errors = table.column("error").to_pylist()
        failed = [(f, e) for f, e in zip(table.column("file").to_pylist(), errors, strict=True) if e]
        table = table.filter(pa.array([not e for e in errors])).select(list(COLUMNS)).cast(schema)
    else:
        table = schema.empty_table()
    pq.write_table(table, str(output))
    return int(table.num_rows), failed
