"""What ``add()`` checks: cheap checks always, the late ones after the event.

``add()`` stays O(size of one declaration) and touches no other record: it
validates the declaration, refuses a duplicate name, and leaves every other
question, unknown targets and loops (even of two) included, to the bulk
check when the order is computed. A one-shot
registry that has already notified must decide at once whether a newcomer
may run, so only then are its neighbours found, by one scan of the
registered declarations.
"""

from __future__ import annotations

from collections.abc import Mapping

from virtmodel.notifiers.errors import LateRegistrationError
from virtmodel.notifiers.graph import declared_edge, unknown
from virtmodel.notifiers.notifier import Notifier
from virtmodel.notifiers.trace import Status


def neighbours(
    record: Notifier, notifiers: Mapping[str, Notifier]
) -> tuple[list[str], list[str]]:
    """Return the registered notifiers *record* would come after and before.

    Edges count whoever declared them: *record* itself, or a registered
    notifier that named *record* before it existed.
    """
    name = record.name
    preds = [o for o in (*record.after, *record.after_optional) if o in notifiers]
    succs = [o for o in (*record.before, *record.before_optional) if o in notifiers]
    for other in notifiers.values():
        if name in other.before or name in other.before_optional:
            preds.append(other.name)
        if name in other.after or name in other.after_optional:
            succs.append(other.name)
    return list(dict.fromkeys(preds)), list(dict.fromkeys(succs))


def check_late(
    event: str,
    record: Notifier,
    notifiers: Mapping[str, Notifier],
    progress: Mapping[str, Status],
    notifying: bool,
) -> None:
    """Refuse a late notifier whose place in the order has passed.

    *progress* holds the outcome of every notifier the one-shot event has
    called so far; *notifying* says whether the walk is still going on.

    Raises:
        UnknownNotifierError: A hard constraint names an absent notifier.
        LateRegistrationError: A successor was already called, or a
            predecessor has not run successfully.
    """
    for keyword in ("after", "before"):
        for other in getattr(record, keyword):
            if other not in notifiers:
                raise unknown(event, other, notifiers, record, keyword)
    preds, succs = neighbours(record, notifiers)
    for other in succs:
        status = progress.get(other)
        if status is not None:
            reason = "already ran" if status is Status.RAN else "already failed"
            edge = declared_edge(record, notifiers[other])
            raise LateRegistrationError(event, record.name, edge, reason)
    for other in preds:
        status = progress.get(other)
        if status is not Status.RAN:
            if status is Status.FAILED:
                reason = "failed"
            elif notifying:
                reason = "has not run yet"
            else:
                reason = "did not run"
            edge = declared_edge(notifiers[other], record)
            raise LateRegistrationError(event, record.name, edge, reason)
