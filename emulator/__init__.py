"""A local Azure OpenAI data-plane emulator: files, fine-tuning jobs and chat, over real HTTP.

Rehearsal and test harness only: its chat answers are labelled stand-ins, never model
output. Start it with ``python -m jobs emulator`` or, in tests,
:class:`emulator.server.EmulatorServer`.
"""
