"""The classroom page: ``virtmodel serve`` (a room of its own).

``server`` is the HTTP side (127.0.0.1 only, stdlib ``http.server``),
``api`` answers the page's questions on fresh machines, ``command`` is the
CLI handler, and ``static/`` holds the page (HTML and a small hand-written
script, shipped as package data). Nothing is imported here.
"""
