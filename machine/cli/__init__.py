"""The ``virtmodel`` command line: parser, commands and entry point.

``status`` (exit codes, the usage error, JSON output) is imported by both
``parser`` and ``commands``; ``main`` ties them together and is the console
script's entry point. Nothing is imported here, so importing one piece does
not pull in the others.
"""
