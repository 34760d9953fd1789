"""``python -m jobs upload DATA.jsonl``: validate, upload once, wait for ``processed``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from jobs.flow.data import check_data
from jobs.flow.upload import ensure_uploaded
from jobs.session import Session


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
    warnings: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        how = "reused (already uploaded)" if self.reused else "uploaded"
        return (f"{self.filename}: {how} as {self.file_id}, status {self.status}\n"
                f"  {self.examples} examples, sha256 {self.sha256[:12]}..., recorded in the run state of stack "
                f"{self.stack!r}\n"
                + (f"  {len(self.warnings)} validator warning(s) above (`python -m jobs validate` lists them)\n"
                   if self.warnings else "")
                + f"next: python -m jobs train --file-id {self.file_id} --stack {self.stack}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def upload(session: Session, *, path: str, model: str | None = None, wait: bool = True,
           method: str = "supervised") -> UploadResult:
    check = check_data(path, model=model, say=session.say, method=method)
    session.checkpoint("after_validate")
    with session.state.locked(), session.progress():
        out = ensure_uploaded(session, check, wait=wait)
    return UploadResult(file_id=out.file_id, filename=out.filename, sha256=out.sha256, status=out.status,
                        reused=out.reused, adopted=out.adopted, examples=check.examples, stack=session.stack,
                        warnings=list(check.warnings))
