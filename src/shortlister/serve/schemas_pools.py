"""Bodies of the pool endpoints: uploading a candidate file, the served pool."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RejectedRow(BaseModel):
    row: int | None = Field(description="The row in the uploaded file (1 = first data row).")
    id: str = Field(description="The row's id as written.")
    field: str = Field(description="The field at fault (title, id, ...).")
    reason: str = Field(description="'<code>: row N, field F: what was wrong and expected'.")


class UploadTiming(BaseModel):
    read_s: float = Field(description="Spooling the file and loading it (the CLI's loader).")
    validate_s: float = Field(description="Cleaning its rows (the CLI's cleaner), ids checked.")
    rebuild_s: float = Field(description="Every served method rebuilt for the new pool.")
    methods_s: dict[str, float] = Field(description="Per method: its rebuild's seconds.")


class UploadResponse(BaseModel):
    upload_id: str = Field(description="For GET /pools/upload/{upload_id}/rejects.csv.")
    file_name: str
    mode: Literal["replace", "join"]
    n_rows: int = Field(description="Data rows read from the file.")
    accepted: int = Field(description="Rows now in the served pool.")
    rejected: int = Field(description="Rows left out, each with its reason.")
    rejects: list[RejectedRow] = Field(description="The first rejected rows (see truncated).")
    rejects_truncated: bool = Field(description="More rows were rejected than listed here.")
    rejects_url: str = Field(description="All rejected rows as a spreadsheet-safe CSV.")
    warnings: int = Field(description="Accepted rows whose fields lost control characters.")
    n_candidates: int = Field(description="The served pool's size after the upload.")
    pool_source: str = Field(description="Where the served pool now comes from.")
    methods: list[str] = Field(description="The methods that rank the new pool.")
    unavailable: dict[str, str] = Field(description="Methods not served, and why.")
    seconds: float = Field(description="From the file received to the new pool served.")
    timing: UploadTiming


class UploadRefused(BaseModel):
    """422: a file the CLI would refuse (`invalid_file`, `unsupported_file_type`), or one
    with no row accepted (`no_candidates`, with its rejects). The pool is left as it was."""

    error: str
    detail: str
    upload_id: str | None = Field(None, description="no_candidates: for the rejects file.")
    file_name: str | None = None
    rejected: int | None = None
    rejects: list[RejectedRow] | None = None
    rejects_url: str | None = None


class PoolInfo(BaseModel):
    pool_source: str = Field(description="'default', a candidate file, or 'upload:<name>'.")
    n_candidates: int
    max_upload_bytes: int = Field(description="Larger upload requests get 413.")
    extensions: list[str] = Field(description="File types an upload may be.")
    modes: list[str] = Field(description="replace: the file becomes the pool; join: added.")
