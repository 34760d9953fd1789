"""What marks an answer as an emulator stand-in, wherever it is shown: the emulator starts every answer with
the label and sends the header (docs/emulator.md, "Stand-in answers"). The product only reads them; it never
names the emulator otherwise. Standard library only and nothing else here, so the checks (and ``validate``,
which grades with them) import it without the SDK layer."""

STAND_IN_LABEL = "[emulator stand-in]"
STAND_IN_HEADER = "x-emulator"
# What writes the answers: "stand-in", or the local backend's model (e.g. "SmolLM2-135M-Instruct"); sent on every
# answer and file download (results.csv: the metrics chart names the model from it).
MODEL_HEADER = "x-emulator-model"
