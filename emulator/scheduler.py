"""Running slots: which pending job starts, and when.

Up to ``contract.MAX_RUNNING_TRAINING_JOBS`` jobs per emulator (= per Azure resource) are ``running``: 3 of
the Standard and Global training types together, 5 Developer (Microsoft's quotas page, ``contract.QUOTA_SOURCE``);
the others wait in ``pending`` in creation order. Any number may wait: the page's 20 queued jobs
(``contract.MAX_QUEUED_TRAINING_JOBS``) are not enforced, because Azure's answer beyond them is not documented
(docs/emulator.md, the create-job row of the deliberate differences).

A slot is held from ``run_started_at``; a job that leaves it keeps the interval (``last_slot``), which says when
the jobs behind it could start, so a transition is dated when it *would* have happened.
"""

from __future__ import annotations

from typing import Any

from jobs import contract


def slot_group(job: dict[str, Any]) -> str:
    """Which running-job quota a job counts against: Developer, or Standard and Global together."""
    kind = str(job.get(contract.TRAINING_TYPE_FIELD) or "").lower()
    return contract.TRAINING_DEVELOPER if kind.startswith("developer") else contract.TRAINING_STANDARD


def release(job: dict[str, Any], t: float) -> None:
    """The job leaves its running slot at ``t`` (the slot's interval is kept: it tells when others may start)."""
    job["last_slot"] = [job["run_started_at"], t]
    job["run_started_at"] = None
    job["slot_released_at"] = t


def _occupied(job: dict[str, Any], t: float) -> bool:
    """Whether ``job`` holds a running slot at time ``t``."""
    if job["status"] == "running" and job.get("run_started_at") is not None:
        return float(job["run_started_at"]) <= t
    slot = job.get("last_slot")
    return slot is not None and float(slot[0]) <= t < float(slot[1])


def earliest_start(job: dict[str, Any], others: list[dict[str, Any]]) -> float | None:
    """The first time at or after ``job`` is ready when its group has a free running slot (None: not yet)."""
    group = slot_group(job)
    limit = contract.MAX_RUNNING_TRAINING_JOBS[group]
    mates = [j for j in others if j["id"] != job["id"] and slot_group(j) == group]
    ready = float(job["ready_at"])
    for t in sorted({ready} | {float(j["last_slot"][1]) for j in mates if j.get("last_slot")
                               and float(j["last_slot"][1]) > ready}):
        if sum(_occupied(j, t) for j in mates) < limit:
            return t
    return None


def next_start(jobs: list[dict[str, Any]], now: float) -> tuple[dict[str, Any], float] | None:
    """The pending job that gets a slot next by ``now`` and when, first come first served within a quota."""
    waiting = sorted((j for j in jobs if j["status"] == "pending"), key=lambda j: (j["ready_at"], j["created_at"]))
    blocked: set[str] = set()
    for pending in waiting:
        group = slot_group(pending)
        if group in blocked:
            continue
        start = earliest_start(pending, jobs)
        if start is None or start > now:
            blocked.add(group)
            continue
        return pending, start
    return None
