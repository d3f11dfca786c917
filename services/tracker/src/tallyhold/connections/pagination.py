"""The opaque cursor of `GET /v1/connections`: the (created_at, id) position of the last item of a page,
as URL-safe base64 of a small JSON object. Clients pass it back unchanged; anything that does not decode to a
position is 400 `invalid_cursor` (its text is never repeated). A cursor only says where to resume: it grants
nothing, so it is not signed, and a connection deleted meanwhile does not invalidate it."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime

from tallyhold.errors import BadRequest


def encode(created_at: datetime, connection_id: uuid.UUID) -> str:
    raw = json.dumps({"t": created_at.isoformat(), "id": str(connection_id)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created_at = datetime.fromisoformat(position["t"])
        connection_id = uuid.UUID(position["id"])
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        raise BadRequest("The cursor is not one this instance issued.", code="invalid_cursor") from None
    if created_at.tzinfo is None:
        raise BadRequest("The cursor is not one this instance issued.", code="invalid_cursor")
    return created_at, connection_id
