"""The emulator's local backend: a small open model (SmolLM2-135M-Instruct) trained and served on this machine,
standing in for the Azure model a deployment names. Imported only when ``backend: local`` is chosen: the
stand-in emulator, the runner and the Pulumi program never import this package (or torch)."""
