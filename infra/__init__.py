"""The Pulumi program's logic: typed config, the region table, the estate's components.

``__main__.py`` stays thin: ``load()`` the config, ``build_estate()``, export outputs.
Importing this package declares nothing.
"""
