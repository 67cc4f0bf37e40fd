"""Running a phase under many valid orders, and what that shows.

:func:`explore` runs the phase a ``build()`` returns under every valid
order, or, when the notifiers declare what they read and write, under one
order per class of equivalent orders (:mod:`.classes`); it groups the
outcomes (:mod:`.outcome`) into an :class:`Exploration` and shrinks any
difference to the culprit pair (:mod:`.culprit`). :mod:`.orders` enumerates,
samples and walks between valid orders.
"""

from __future__ import annotations

from virtmodel.notifiers.conflicts import tie_break_pairs
from virtmodel.notifiers.explore.exploration import Exploration
from virtmodel.notifiers.explore.search import Built, ExploreError, explore

__all__ = ["Built", "Exploration", "ExploreError", "explore", "tie_break_pairs"]
