"""``python -m jobs upload DATA.jsonl``: validate, upload once, wait for ``processed``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jobs import lifecycle as lc


@dataclass
class UploadResult:
    file_id: str
    filename: str
    sha256: str
    status: str
    reused: bool
    adopted: bool
    examples: int
    stack: str

    def to_text(self) -> str:
        how = "reused (already uploaded)" if self.reused else "uploaded"
        return (f"{self.filename}: {how} as {self.file_id}, status {self.status}\n"
                f"  {self.examples} examples, sha256 {self.sha256[:12]}..., recorded in the run state of stack "
                f"{self.stack!r}\n"
                f"next: python -m jobs train --file-id {self.file_id} --stack {self.stack}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def upload(*, path: str, model: str | None = None, wait: bool = True, stack: str | None = None,
           endpoint: str | None = None, api: str | None = None, api_version: str | None = None,
           json_mode: bool = False) -> UploadResult:
    from jobs.display import make_display

    check = lc.validate_data(Path(path), model=model)
    lc.checkpoint("after_validate")
    conn = lc.open_connection(stack=stack, endpoint=endpoint, api=api, api_version=api_version)
    rs = lc.run_state(conn)
    display = make_display(json_mode=json_mode)
    try:
        with rs.locked():
            out = lc.ensure_uploaded(conn, rs, check.path, check.sha256, say=display.line, wait=wait,
                                         check=check)
    finally:
        display.close()
    return UploadResult(file_id=out.file_id, filename=out.filename, sha256=out.sha256, status=out.status,
                        reused=out.reused, adopted=out.adopted, examples=check.examples, stack=conn.stack)
