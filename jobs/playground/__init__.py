"""The web playground (``python -m jobs playground``): the lab's chat playground with two columns side by side.

- :mod:`jobs.playground.board`: what the page shows and does, without HTTP: two columns, each a compare
  :class:`~jobs.compare.plan.Variant` (a deployment and a system message) with its own conversation; one
  question goes to both at once, each answer streams through :func:`jobs.flow.chat.ask` (the session's
  client, auth and retry policy) and is checked as it arrives; the session exports as a compare report.
- :mod:`jobs.playground.server`: the standard library's ``ThreadingHTTPServer``: the page, its script and
  style (``static/``, served by the project, nothing from elsewhere), a JSON API and the answers as
  server-sent events.

docs/playground.md describes the page, the routes, the accessibility contract and the tests.
"""
