"""foundry-finetune job runner: validate, upload, fine-tune, watch and promote.

Nothing heavy is imported here: ``python -m jobs --help`` must stay fast.
"""

__version__ = "0.1.0"
