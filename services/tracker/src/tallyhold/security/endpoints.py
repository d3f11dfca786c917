from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tallyhold.api.dependencies import SettingsDep
from tallyhold.auth.dependencies import CurrentToken
from tallyhold.errors import error_responses

router = APIRouter(prefix="/v1/security", tags=["security"], responses=error_responses(401))


class EgressIps(BaseModel):
    ips: list[str] = Field(description="Put these on the exchange's IP allowlist for your read-only key.")
    published: bool = Field(description="False when the operator has not published egress IPs.")


@router.get("/egress-ips")
async def get_egress_ips(settings: SettingsDep, token: CurrentToken) -> EgressIps:
    ips = [str(ip) for ip in settings.egress.ips]
    return EgressIps(ips=ips, published=bool(ips))
