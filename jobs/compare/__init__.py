"""compare's engine (docs/compare.md). The flow-level entry points are in ``jobs/flow/compare.py``.

=================  ============================================================================
module             what
=================  ============================================================================
``suite.py``       suites in three formats, the default suite, the project's data files
``plan.py``        variants, the plan (what to ask), run options (how), gates, limits, prices
``engine.py``      sending conversations: concurrent, paced, checked, recorded row by row
``pacing.py``      per-deployment budgets (TPM/RPM over 60 s and 10 s, learned from headers)
``judge.py``       the optional judge's rubric, its JSON schema and reading its verdicts
``history.py``     the SQLite history with ordered migrations
``stats.py``       Wilson intervals, McNemar's exact test, pairing, stability
``report.py``      report.json (``report.schema.json``), report.md, the terminal text
``html.py``        report.html
``grade.py``       grading recorded answers (``grade``, ``validate``)
=================  ============================================================================
"""
