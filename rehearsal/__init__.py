"""The offline rehearsal: the runner pointed at a local emulator instead of Azure.

Runner-side code that knows both programs: the rehearsal's session (:mod:`rehearsal.session`), the emulator's
stand-in for the stack (:mod:`rehearsal.deployer`) and the one offline-lab set-up (:mod:`rehearsal.lab`) that
``rehearse`` and ``playground --rehearsal`` share. The emulator itself imports nothing from here.
"""
