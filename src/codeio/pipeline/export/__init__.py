"""Export: SFT rows (messages, ShareGPT, CodeI/O layout, Parquet, HF datasets), DPO pairs,
and a held-out split by function. Every file is written atomically and sorted by id."""

from __future__ import annotations

from codeio.pipeline.export.codeio_layout import codeio_row
from codeio.pipeline.export.dpo import dpo_rows
from codeio.pipeline.export.files import atomic_dir, atomic_path, write_jsonl
from codeio.pipeline.export.messages import assemble_response, messages_row
from codeio.pipeline.export.run import (
    FORMATS,
    ExportFormat,
    ExportResult,
    Include,
    default_output,
    export_run,
    export_samples,
    selected,
)
from codeio.pipeline.export.sharegpt import sharegpt_row
from codeio.pipeline.export.source import RunSource
from codeio.pipeline.export.split import holdout_functions, holdout_row

__all__ = [
    "FORMATS",
    "ExportFormat",
    "ExportResult",
    "Include",
    "RunSource",
    "assemble_response",
    "atomic_dir",
    "atomic_path",
    "codeio_row",
    "default_output",
    "dpo_rows",
    "export_run",
    "export_samples",
    "holdout_functions",
    "holdout_row",
    "messages_row",
    "selected",
    "sharegpt_row",
    "write_jsonl",
]
