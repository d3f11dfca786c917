"""Methods no adapter may ever call, pinned: a read-only key must stay read-only, so
nothing here may change a key or cancel every order, whatever the key's permissions.

`KEY_CHANGING`: every ccxt implicit method (ccxt 4.5.90) of a supported venue that creates, modifies, restricts,
revokes or deletes an API key: Bitstamp's revoke-all, MEXC's POST apiKeyInfo (which overwrites the key's IP
whitelist), Bybit's update-api/delete-api on the calling key, and every sub-account key create/modify/delete.
`CANCEL_ALL`: the cancel-all endpoints of the venues whose trade permission is probed by cancelling an order
that cannot exist: a cancel-all endpoint hit by mistake would cancel the customer's real orders.

Two independent walls keep them out of reach (tests/tracker/exchanges/test_denylist.py proves both):
- `VenueApi.call` refuses any method name that is not declared by the venue's adapter, and any name listed here;
- the transport guard (guard.py) refuses any HTTP request whose method and path are not those of a declared
  method, and any whose method and path are those of a listed one, before a byte leaves the process.
A test also scans ccxt's implicit API of every venue for key-management endpoints, so a ccxt upgrade that adds
one fails until it is pinned here.
"""

from __future__ import annotations

KEY_CHANGING: dict[str, tuple[str, ...]] = {
    "binance": (
        "sapiDeleteBrokerSubAccountApi",
        "sapiDeleteBrokerSubAccountApiIpRestrictionIpList",
        "sapiDeleteSubAccountSubAccountApiIpRestrictionIpList",
        "sapiPostBrokerSubAccountApi",
        "sapiPostBrokerSubAccountApiCommission",
        "sapiPostBrokerSubAccountApiCommissionCoinFutures",
        "sapiPostBrokerSubAccountApiCommissionFutures",
        "sapiPostBrokerSubAccountApiIpRestriction",
        "sapiPostBrokerSubAccountApiIpRestrictionIpList",
        "sapiPostBrokerSubAccountApiPermission",
        "sapiPostBrokerSubAccountApiPermissionUniversalTransfer",
        "sapiPostBrokerSubAccountApiPermissionVanillaOptions",
        "sapiV2PostSubAccountSubAccountApiIpRestriction",
    ),
    "bybit": (
        "privatePostUserV3PrivateCreateSubApi",
        "privatePostUserV3PrivateDeleteApi",
        "privatePostUserV3PrivateDeleteSubApi",
        "privatePostUserV3PrivateUpdateApi",
        "privatePostUserV3PrivateUpdateSubApi",
        "privatePostV5UserCreateSubApi",
        "privatePostV5UserDeleteApi",
        "privatePostV5UserDeleteSubApi",
        "privatePostV5UserUpdateApi",
        "privatePostV5UserUpdateSubApi",
    ),
    "okx": (
        "privatePostBrokerDmaSubaccountApikey",
        "privatePostBrokerNdSubaccountApikey",
        "privatePostBrokerNdSubaccountDeleteApikey",
        "privatePostBrokerNdSubaccountModifyApikey",
        "privatePostUsersSubaccountApikey",
        "privatePostUsersSubaccountDeleteApikey",
        "privatePostUsersSubaccountModifyApikey",
        "privatePostUsersSubaccountSubaccountApikey",
    ),
    "kucoin": (
        "brokerDeleteBrokerNdAccountApikey",
        "brokerPostBrokerNdAccountApikey",
        "brokerPostBrokerNdAccountUpdateApikey",
        "futuresPrivateDeleteSubApiKey",
        "futuresPrivatePostSubApiKey",
        "futuresPrivatePostSubApiKeyUpdate",
        "privateDeleteSubApiKey",
        "privatePostSubApiKey",
        "privatePostSubApiKeyUpdate",
    ),
    "bitget": (
        "privateBrokerPostBrokerV1AccountSubApiCreate",
        "privateBrokerPostBrokerV1AccountSubApiModify",
        "privateBrokerPostV2BrokerManageCreateSubaccountApikey",
        "privateBrokerPostV2BrokerManageModifySubaccountApikey",
        "privateUserPostV2UserBatchCreateSubaccountAndApikey",
        "privateUserPostV2UserCreateVirtualSubaccountApikey",
        "privateUserPostV2UserModifyVirtualSubaccountApikey",
        "privateUtaPostV3BrokerCreateSubApikey",
        "privateUtaPostV3BrokerDeleteSubApikey",
        "privateUtaPostV3BrokerModifySubApikey",
        "privateUtaPostV3UserCreateSubApi",
        "privateUtaPostV3UserDeleteSubApi",
        "privateUtaPostV3UserUpdateSubApi",
    ),
    "gemini": ("privatePostV1OauthRevokeByToken",),
    "gate": (
        "privateSubAccountsDeleteSubAccountsUserIdKeysKey",
        "privateSubAccountsPostSubAccountsUserIdKeys",
        "privateSubAccountsPutSubAccountsUserIdKeysKey",
    ),
    "htx": (
        "contractPrivatePostApiV6CopyTradingTraderApikey",
        "spotPrivatePostV2SubUserApiKeyDeletion",
        "spotPrivatePostV2SubUserApiKeyGeneration",
        "spotPrivatePostV2SubUserApiKeyModification",
        "v2PrivatePostSubUserApiKeyDeletion",
        "v2PrivatePostSubUserApiKeyGeneration",
        "v2PrivatePostSubUserApiKeyModification",
    ),
    "mexc": (
        "brokerPrivateDeleteSubAccountApiKey",
        "brokerPrivatePostSubAccountApiKey",
        "spotPrivateDeleteSubAccountApiKey",
        "spotPrivatePostApiKeyInfo",
        "spotPrivatePostSubAccountApiKey",
    ),
    "bitstamp": ("privatePostRevokeAllApiKeys",),
}

CANCEL_ALL: dict[str, tuple[str, ...]] = {
    "bitstamp": ("privatePostCancelAllOrders", "privatePostCancelAllOrdersPair"),
    "bitvavo": ("privateDeleteOrders",),
    "cryptocom": ("v1PrivatePostPrivateCancelAllOrders",),
    "onetrading": ("privateDeleteAccountOrders",),
}


def denied(venue: str) -> frozenset[str]:
    return frozenset(KEY_CHANGING.get(venue, ())) | frozenset(CANCEL_ALL.get(venue, ()))
