"""The flow: the lab's steps, each a function of the session that a command, ``rehearse`` and ``pipeline``
call the same way. Data flows one way:

============  ================================  =============================================
step          module                            records in the run state
============  ================================  =============================================
validate      ``jobs/flow/data.py``             nothing (pure; warnings shown)
upload        ``jobs/flow/upload.py``           ``pending_uploads``, ``files``
(cost guard)  ``jobs/flow/cost.py``             nothing (refuses before anything is spent)
train         ``jobs/flow/train.py``            ``pending``, ``jobs``, ``latest_job``
watch         ``jobs/flow/watch.py``            ``jobs[*].status``, ``fine_tuned_model``
promote       ``jobs/flow/promote.py``          ``promoted`` (the model goes to the stack)
clean         ``jobs/flow/clean.py``            drops deleted files, ``model_deleted``
run           ``jobs/flow/run.py``              validate → … → promote, ``flows["run"]``
============  ================================  =============================================

Every step takes the :class:`jobs.session.Session` first: it holds the connection (``session.api``), the
run state, the stack's deployer, the display and the crash-test hook (``jobs/crash.py``). No step reads
the environment or prints on its own.
"""
