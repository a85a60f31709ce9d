"""Origin checks on a verified activity (interop checklist §4-§5). Pure.

The signature proves who sent the request; these rules stop that sender from
speaking for objects that live on another host.
"""

from __future__ import annotations

from ..as2_in import IncomingActivity
from ..errors import BadRequest, OriginMismatch
from ..vocab import ACTOR_TYPES, ids_of, same_origin

_OBJECT_OWNING = frozenset({"Create", "Update", "Delete"})


def check_activity_origin(act: IncomingActivity) -> None:
    if not same_origin(act.id, act.actor):
        raise OriginMismatch("activity id is not on the actor's host")
    if act.type not in _OBJECT_OWNING:
        return
    if act.object_id is None:
        raise BadRequest(f"{act.type} needs an object with an id")
    if not same_origin(act.object_id, act.actor):
        raise OriginMismatch("object is not on the actor's host")
    if not isinstance(act.object, dict):
        return
    if act.object_type in ACTOR_TYPES:
        if act.object_id != act.actor:
            raise OriginMismatch("an actor may only update itself")
        return
    attributed = ids_of(act.object.get("attributedTo"))
    if act.type in ("Create", "Update") and attributed and attributed[0] != act.actor:
        # The first author is the one a note is stored for (as2_in.parse_note).
        raise OriginMismatch("object is attributed to another actor")
