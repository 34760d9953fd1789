"""Pulumi program: the Azure AI Foundry estate of the fine-tuning lab.

`pulumi up` provisions; after the job runner sets `fineTunedModel`, `pulumi up`
again deploys the tuned model; `pulumi destroy` cleans up. A bad config value
stops `pulumi preview` with one message naming the key (infra.config.ConfigError).
"""

import sys
from pathlib import Path

# Pulumi runs this file with runpy; make `infra` and `jobs` importable whatever
# the working directory.
_ROOT = str(Path(__file__).resolve().parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from infra.config import load  # noqa: E402
from infra.estate import build_estate, export_outputs  # noqa: E402

export_outputs(build_estate(load()))
