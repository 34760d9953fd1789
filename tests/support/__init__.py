"""Test support: the one copy of everything the tests share (imported as a library; fixtures live in
``tests/fixtures_*.py`` and only wrap these).

- ``paths``: the project root, ``../shared`` and its files.
- ``emulators``: the one fast emulator config, and the one way to run the emulator as a process
  (in-process servers are ``emulator.server.EmulatorServer`` itself).
- ``clients``: the one SDK client factory, and what the emulator holds (through the SDK).
- ``cli``: ``python -m jobs`` in-process (click's runner) or as a subprocess.
- ``fake_pulumi``: the handle on the stand-in ``pulumi`` (the script is ``tests/support/bin/pulumi``).
- ``spec``: the official specs as validators; ``http``: plain HTTP against the emulator.
- ``datasets``: builders of training files with one defect.
- ``data/``: test data files.
"""
