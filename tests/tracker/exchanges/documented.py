"""Documented answers of the venues without a sandbox server (the example answers of each
exchange's API documentation), by venue: the permission answer of a read-only key, a write-capable
variant with the words the customer must see, the balance endpoints, and what Tallyhold must read from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Documented:
    read_only: dict[tuple[str, str], Any]  # (method, path) → body: permission check of a read-only key
    write: dict[tuple[str, str], Any]  # the same endpoints answering for a key with write rights
    switch_off: list[str]
    balances: dict[tuple[str, str], Any | tuple[int, Any]]  # body, or (status, body)
    expected: dict[tuple[str, str], str]
    passphrase: bool = False
    not_opened: list[str] = field(default_factory=list)


OK = {"code": "200000"}

KUCOIN = Documented(
    read_only={
        ("GET", "/api/v1/user/api-key"): {
            **OK,
            "data": {
                "uid": 12345678,
                "subName": "",
                "remark": "tallyhold",
                "apiKey": "6705f5c311545b000157d3eb",
                "apiVersion": 3,
                "permission": "General",
                "ipWhitelist": "",
                "isMaster": True,
                "createdAt": 1729821494000,
            },
        }
    },
    write={
        ("GET", "/api/v1/user/api-key"): {
            **OK,
            "data": {
                "uid": 12345678,
                "apiKey": "6705f5c311545b000157d3eb",
                "permission": "General,Spot,Transfer",
                "ipWhitelist": "1.2.3.4",
                "isMaster": True,
                "createdAt": 1729821494000,
            },
        }
    },
    switch_off=["Spot Trading", "Transfer (deposits and withdrawals)"],
    passphrase=True,
    balances={
        ("GET", "/api/v1/accounts"): {
            **OK,
            "data": [
                {
                    "id": "5bd6e9286d99522a52e458de",
                    "currency": "BTC",
                    "type": "main",
                    "balance": "0.5",
                    "available": "0.5",
                    "holds": "0",
                },
                {
                    "id": "5bd6e9216d99522a52e458d6",
                    "currency": "USDT",
                    "type": "trade",
                    "balance": "100",
                    "available": "90",
                    "holds": "10",
                },
                {
                    "id": "5bd6e9216d99522a52e458d7",
                    "currency": "USDT",
                    "type": "trade_hf",
                    "balance": "5",
                    "available": "5",
                    "holds": "0",
                },
                {
                    "id": "5bd6e9216d99522a52e458d8",
                    "currency": "ETH",
                    "type": "margin",
                    "balance": "2",
                    "available": "2",
                    "holds": "0",
                },
            ],
        },
        ("GET", "/api/v1/account-overview-all"): {
            **OK,
            "data": {
                "summary": {
                    "accountEquityTotal": "50",
                    "unrealisedPNLTotal": "0",
                    "marginBalanceTotal": "50",
                    "currency": "USD",
                },
                "accounts": [
                    {
                        "currency": "USDT",
                        "accountEquity": "50",
                        "unrealisedPNL": "0",
                        "marginBalance": "50",
                        "positionMargin": "0",
                        "orderMargin": "0",
                        "frozenFunds": "0",
                        "availableBalance": "50",
                    }
                ],
            },
        },
        ("GET", "/api/v1/earn/hold-assets"): {
            **OK,
            "data": {
                "totalNum": 1,
                "currentPage": 1,
                "pageSize": 50,
                "totalPage": 1,
                "items": [
                    {
                        "orderId": "2767291",
                        "productId": "994",
                        "productCategory": "KCS_STAKING",
                        "productType": "DEMAND",
                        "currency": "KCS",
                        "incomeCurrency": "KCS",
                        "returnRate": "0.03471727",
                        "holdAmount": "12",
                        "redeemedAmount": "0",
                        "redeemingAmount": "0",
                        "lockStartTime": 1701252000000,
                        "lockEndTime": None,
                        "purchaseTime": 1729257513000,
                        "redeemPeriod": 3,
                        "status": "LOCKED",
                        "earlyRedeemSupported": 0,
                    }
                ],
            },
        },
    },
    expected={
        ("BTC", "funding"): "0.5",
        ("USDT", "spot"): "105",
        ("ETH", "margin"): "2",
        ("USDT", "futures"): "50",
        ("KCS", "earn"): "12",
    },
)

BITGET_INFO = {
    "userId": "**********",
    "inviterId": "**********",
    "ips": "127.0.0.1",
    "parentId": 1,
    "traderType": "trader",
    "channelCode": "XXX",
    "channel": "YYY",
    "regisTime": "1246566789345",
}
BITGET_CLASSIC = (
    400,
    {
        "code": "40084",
        "msg": "You are in Classic Account mode, and the unified account API is not supported",
        "requestTime": 1695808949356,
        "data": None,
    },
)
BITGET = Documented(
    read_only={
        ("GET", "/api/v3/account/info"): BITGET_CLASSIC,
        ("GET", "/api/v2/spot/account/info"): {
            "code": "00000",
            "msg": "success",
            "requestTime": 1695808949356,
            "data": {**BITGET_INFO, "authorities": ["stor", "coor", "wtor"]},
        },
    },
    write={
        ("GET", "/api/v3/account/info"): BITGET_CLASSIC,
        ("GET", "/api/v2/spot/account/info"): {
            "code": "00000",
            "msg": "success",
            "requestTime": 1695808949356,
            "data": {**BITGET_INFO, "authorities": ["trade", "readonly"]},
        },
    },
    switch_off=["trade"],
    passphrase=True,
    balances={
        ("GET", "/api/v2/spot/account/assets"): {
            "code": "00000",
            "msg": "success",
            "requestTime": 1695808949356,
            "data": [
                {
                    "coin": "USDT",
                    "available": "38.06",
                    "limitAvailable": "0",
                    "frozen": "1.94",
                    "locked": "0",
                    "uTime": "1622697148",
                }
            ],
        },
        ("GET", "/api/v2/mix/account/accounts"): {
            "code": "00000",
            "msg": "success",
            "requestTime": 1695808949356,
            "data": [
                {
                    "marginCoin": "USDT",
                    "locked": "0",
                    "available": "100",
                    "crossedMaxAvailable": "100",
                    "isolatedMaxAvailable": "100",
                    "maxTransferOut": "100",
                    "accountEquity": "100",
                    "usdtEquity": "100",
                    "btcEquity": "0.001",
                    "crossedRiskRate": "0",
                    "unrealizedPL": "0",
                    "coupon": "0",
                }
            ],
        },
        ("GET", "/api/v2/earn/savings/assets"): {
            "code": "00000",
            "msg": "success",
            "requestTime": 1695808949356,
            "data": {
                "resultList": [
                    {
                        "productId": "1068393512218202112",
                        "orderId": "1068393512218202113",
                        "productCoin": "BGB",
                        "interestCoin": "BGB",
                        "periodType": "flexible",
                        "period": "",
                        "holdAmount": "7",
                        "lastProfit": "0",
                        "totalProfit": "0",
                        "holdDays": "3",
                        "status": "in_holding",
                        "allowRedemption": "yes",
                        "productLevel": "normal",
                        "apy": [],
                    }
                ],
                "endId": "1068393512218202113",
            },
        },
    },
    # the mix accounts endpoint answers the same for each product type in this canned venue: USDT three times
    expected={("USDT", "spot"): "40", ("USDT", "futures"): "300", ("BGB", "earn"): "7"},
)

GEMINI = Documented(
    read_only={
        ("POST", "/v1/roles"): {
            "isAuditor": True,
            "isFundManager": False,
            "isTrader": False,
            "counterparty_id": "YZ3ZGTXK",
        }
    },
    write={
        ("POST", "/v1/roles"): {
            "isAuditor": False,
            "isFundManager": True,
            "isTrader": True,
            "counterparty_id": "YZ3ZGTXK",
        }
    },
    switch_off=["Fund Manager", "Trader"],
    balances={
        ("POST", "/v1/balances"): [
            {
                "type": "exchange",
                "currency": "BTC",
                "amount": "1154.62034001",
                "available": "1129.10517279",
                "availableForWithdrawal": "1129.10517279",
            },
            {
                "type": "exchange",
                "currency": "USD",
                "amount": "18722.79",
                "available": "14481.62",
                "availableForWithdrawal": "14481.62",
            },
        ],
        ("POST", "/v1/balances/earn"): [
            {
                "currency": "BTC",
                "balance": 3.0,
                "available": 3.0,
                "availableForWithdrawal": 3.0,
                "balanceByProvider": {"5fb3a1b3-c9ab-4b51-b32c-2f3a5d9b3bb6": {"balance": 3.0}},
            }
        ],
        ("POST", "/v1/balances/staking"): [
            {
                "type": "Staking",
                "currency": "MATIC",
                "balance": 10,
                "available": 0,
                "availableForWithdrawal": 0,
                "balanceByProvider": {"62b21e17-2534-4b9f-afcf-b7edb609dd8d": {"balance": 10}},
            }
        ],
    },
    expected={
        ("BTC", "spot"): "1154.62034001",
        ("USD", "spot"): "18722.79",
        ("BTC", "earn"): "3",
        ("MATIC", "staked"): "10",
    },
)

GATE_KEYS = {
    "state": 1,
    "mode": 1,
    "name": ["tallyhold"],
    "currency_pairs": [],
    "user_id": 10406147,
    "ip_whitelist": [],
    "key": {"mode": 1},
    "created_at": "1700000000",
    "updated_at": "1700000000",
    "last_access": "1700000000",
}
GATE_NO_FUTURES = (400, {"label": "USER_NOT_FOUND", "message": "please transfer funds first to create futures account"})
GATE = Documented(
    read_only={
        ("GET", "/api/v4/account/main_keys"): {
            **GATE_KEYS,
            "perms": [
                {"name": "spot", "read_only": True},
                {"name": "wallet", "read_only": True},
                {"name": "futures", "read_only": True},
            ],
        }
    },
    write={
        ("GET", "/api/v4/account/main_keys"): {
            **GATE_KEYS,
            "perms": [
                {"name": "spot", "read_only": False},
                {"name": "wallet", "read_only": False},
                {"name": "futures", "read_only": True},
            ],
        }
    },
    switch_off=["Spot/Margin Trade: Read and Write", "Wallet: Read and Write"],
    balances={
        ("GET", "/api/v4/spot/accounts"): [{"currency": "ETH", "available": "968.8", "locked": "1.2", "update_id": 98}],
        ("GET", "/api/v4/margin/accounts"): [
            {
                "currency_pair": "ETH_BTC",
                "locked": False,
                "risk": "1.1",
                "base": {"currency": "ETH", "available": "30.1", "locked": "0", "borrowed": "10.1", "interest": "0"},
                "quote": {"currency": "BTC", "available": "1", "locked": "0", "borrowed": "1.5", "interest": "0"},
            }
        ],
        ("GET", "/api/v4/futures/usdt/accounts"): {
            "total": "9707.80",
            "unrealised_pnl": "-7.80",
            "position_margin": "38.71",
            "order_margin": "0",
            "available": "9669.09",
            "point": "0",
            "currency": "USDT",
            "in_dual_mode": False,
        },
        ("GET", "/api/v4/futures/btc/accounts"): GATE_NO_FUTURES,
        ("GET", "/api/v4/delivery/usdt/accounts"): GATE_NO_FUTURES,
        ("GET", "/api/v4/delivery/btc/accounts"): GATE_NO_FUTURES,
        ("GET", "/api/v4/earn/uni/lends"): [
            {
                "currency": "BTC",
                "current_amount": "1",
                "amount": "1",
                "lent_amount": "1",
                "frozen_amount": "0",
                "min_rate": "0.1",
                "interest_status": "interest_dividend",
                "reinvest_left_amount": "0",
                "create_time": 1673247054000,
                "update_time": 1673247054000,
            }
        ],
    },
    expected={("ETH", "spot"): "970", ("ETH", "margin"): "20", ("USDT", "futures"): "9700", ("BTC", "earn"): "1"},
    not_opened=["futures_btc", "delivery_usdt", "delivery_btc"],
)

HTX_KEY = {
    "accessKey": "{key}",
    "note": "tallyhold",
    "ipAddresses": "",
    "validDays": 90,
    "status": "normal",
    "createTime": 1591348751000,
    "updateTime": 1591348751000,
}
HTX = Documented(
    read_only={
        ("GET", "/v2/user/uid"): {"code": 200, "data": 63628520, "ok": True},
        ("GET", "/v2/user/api-key"): {
            "code": 200,
            "message": "success",
            "data": [{**HTX_KEY, "permission": "readOnly"}],
            "ok": True,
        },
    },
    write={
        ("GET", "/v2/user/uid"): {"code": 200, "data": 63628520, "ok": True},
        ("GET", "/v2/user/api-key"): {
            "code": 200,
            "message": "success",
            "data": [{**HTX_KEY, "permission": "readOnly,trade,withdraw"}],
            "ok": True,
        },
    },
    switch_off=["Trade", "Withdraw"],
    balances={
        ("GET", "/v1/account/accounts"): {
            "status": "ok",
            "data": [
                {"id": 10000001, "type": "spot", "subtype": "", "state": "working"},
                {"id": 10000002, "type": "otc", "subtype": "", "state": "working"},
                {"id": 10000003, "type": "super-margin", "subtype": "", "state": "working"},
            ],
        },
        ("GET", "/v1/account/accounts/10000001/balance"): {
            "status": "ok",
            "data": {
                "id": 10000001,
                "type": "spot",
                "state": "working",
                "list": [
                    {"currency": "usdt", "type": "trade", "balance": "91.85", "seq-num": "477"},
                    {"currency": "usdt", "type": "frozen", "balance": "8.15", "seq-num": "478"},
                    {"currency": "btc", "type": "trade", "balance": "0.001", "seq-num": "3"},
                ],
            },
        },
        ("GET", "/v1/account/accounts/10000002/balance"): {
            "status": "ok",
            "data": {
                "id": 10000002,
                "type": "otc",
                "state": "working",
                "list": [{"currency": "usdt", "type": "trade", "balance": "20", "seq-num": "1"}],
            },
        },
        ("GET", "/v1/account/accounts/10000003/balance"): {
            "status": "ok",
            "data": {
                "id": 10000003,
                "type": "super-margin",
                "state": "working",
                "list": [
                    {"currency": "eth", "type": "trade", "balance": "3", "seq-num": "1"},
                    {"currency": "eth", "type": "loan", "balance": "-1", "seq-num": "2"},
                    {"currency": "eth", "type": "interest", "balance": "-0.01", "seq-num": "3"},
                ],
            },
        },
    },
    expected={("USDT", "spot"): "100", ("BTC", "spot"): "0.001", ("USDT", "funding"): "20", ("ETH", "margin"): "1.99"},
)

MEXC_KEY = {
    "note": "tallyhold",
    "accessKey": "mx0npKfh57kEEVmyLa",
    "createTime": "2026-09-14T18:53:36.000+00:00",
    "remainingValidity": 82,
    "ipWhiteList": "",
    "status": "VALID",
}
MEXC = Documented(
    read_only={
        ("GET", "/api/v3/apiKeyInfo"): {
            **MEXC_KEY,
            "permissions": "SPOT_ACCOUNT_READ,SPOT_DEAL_READ,CONTRACT_ACCOUNT_READ,CONTRACT_DEAL_READ",
        }
    },
    write={
        ("GET", "/api/v3/apiKeyInfo"): {
            **MEXC_KEY,
            "permissions": "CONTRACT_ACCOUNT_READ,CONTRACT_DEAL_READ,SPOT_ACCOUNT_READ,SPOT_DEAL_WRITE,SPOT_DEAL_READ",
        }
    },
    switch_off=["SPOT_DEAL_WRITE"],
    balances={
        ("GET", "/api/v3/account"): {
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": None,
            "accountType": "SPOT",
            "balances": [{"asset": "MX", "free": "3", "locked": "0"}, {"asset": "USDT", "free": "10", "locked": "2"}],
            "permissions": ["SPOT"],
        },
        ("GET", "/api/v1/private/account/assets"): {
            "success": True,
            "code": 0,
            "data": [
                {
                    "currency": "USDT",
                    "positionMargin": 0,
                    "availableBalance": 10,
                    "cashBalance": 10,
                    "frozenBalance": 0,
                    "equity": 10,
                    "unrealized": 0,
                    "bonus": 0,
                }
            ],
        },
    },
    expected={("MX", "spot"): "3", ("USDT", "spot"): "12", ("USDT", "futures"): "10"},
)

VERIFIED: dict[str, Documented] = {
    "kucoin": KUCOIN, "bitget": BITGET, "gemini": GEMINI, "gate": GATE, "htx": HTX, "mexc": MEXC,
}  # fmt: skip


@dataclass
class Probed:
    balances: dict[tuple[str, str], Any]
    expected: dict[tuple[str, str], str]
    probe: tuple[str, str]
    denied: tuple[int, Any]  # the probe's answer for a key that cannot trade
    allowed: tuple[int, Any]  # ... and for a key that can
    switch_off: list[str]
    inconclusive: tuple[int, Any]  # an answer that proves nothing either way
    trade_known: bool = True


UNVERIFIABLE: dict[str, Probed] = {
    "bitstamp": Probed(
        balances={
            ("POST", "/api/v2/account_balances/"): [
                {"currency": "usd", "total": "100.00", "available": "100.00", "reserved": "0.00"},
                {"currency": "btc", "total": "0.50000000", "available": "0.40000000", "reserved": "0.10000000"},
            ]
        },
        expected={("USD", "spot"): "100", ("BTC", "spot"): "0.5"},
        probe=("POST", "/api/v2/cancel_order/"),
        denied=(403, {"error": "No permission found"}),  # ccxt bitstamp.handle_errors comment
        allowed=(404, {"status": "error", "reason": "Order not found."}),
        inconclusive=(400, {"status": "error", "reason": {"__all__": ["Invalid order id."]}}),
        switch_off=["Cancel order (and every other trading or withdrawal permission)"],
        trade_known=False,
    ),
    "bitvavo": Probed(
        balances={
            ("GET", "/v2/balance"): [
                {"symbol": "BTC", "available": "1.57593193", "inOrder": "0.74832374"},
                {"symbol": "EUR", "available": "250", "inOrder": "0"},
            ]
        },
        expected={("BTC", "spot"): "2.32425567", ("EUR", "spot"): "250"},
        probe=("DELETE", "/v2/order"),
        denied=(403, {"errorCode": 310, "error": "This key does not allow trading actions."}),
        allowed=(
            404,
            {
                "errorCode": 240,
                "error": "No order found. Please be aware that simultaneously updating the same "
                "order may return this error.",
            },
        ),
        switch_off=["Trade"],
        inconclusive=(400, {"errorCode": 205, "error": "Invalid parameter."}),
    ),
    "cryptocom": Probed(
        balances={
            ("POST", "/exchange/v1/private/user-balance"): {
                "id": 11,
                "method": "private/user-balance",
                "code": 0,
                "result": {
                    "data": [
                        {
                            "total_available_balance": "4721.05898582",
                            "total_margin_balance": "7595.42571782",
                            "instrument_name": "USD",
                            "is_liquidating": False,
                            "position_balances": [
                                {
                                    "instrument_name": "CRO",
                                    "quantity": "24422.72427884",
                                    "market_value": "4776.107959969956",
                                    "collateral_eligible": "true",
                                    "haircut": "0.5",
                                    "reserved_qty": "0.00000000",
                                },
                                {
                                    "instrument_name": "USD",
                                    "quantity": "3.94",
                                    "market_value": "3.94",
                                    "collateral_eligible": "true",
                                    "haircut": "0",
                                    "reserved_qty": "0.00000000",
                                },
                            ],
                        }
                    ]
                },
            }
        },
        expected={("CRO", "spot"): "24422.72427884", ("USD", "spot"): "3.94"},
        probe=("POST", "/exchange/v1/private/cancel-order"),
        denied=(401, {"id": 12, "method": "private/cancel-order", "code": 10002, "message": "UNAUTHORIZED"}),
        allowed=(200, {"id": 12, "method": "private/cancel-order", "code": 40401, "message": "NOT_FOUND"}),
        switch_off=["Enable Trading"],
        inconclusive=(400, {"id": 12, "method": "private/cancel-order", "code": 10004, "message": "BAD_REQUEST"}),
    ),
    "onetrading": Probed(
        balances={
            ("GET", "/fast/v1/account/balances"): {
                "account_id": "e4eaaaf2-d142-11e1-b3e4-080027620cdd",
                "balances": [
                    {
                        "account_id": "e4eaaaf2-d142-11e1-b3e4-080027620cdd",
                        "currency_code": "BTC",
                        "change": "0.50000000",
                        "available": "10.0",
                        "locked": "1.1234567",
                        "sequence": 5,
                        "time": "2019-04-01T13:39:17.155Z",
                    }
                ],
            }
        },
        expected={("BTC", "spot"): "11.1234567"},
        probe=("DELETE", "/fast/v1/account/orders/00000000-0000-0000-0000-000000000000"),
        denied=(403, {"error": "MISSING_PERMISSION"}),
        allowed=(404, {"error": "ORDER_NOT_FOUND"}),
        switch_off=["Trade"],
        inconclusive=(400, {"error": "JSON_FORMAT_ERROR"}),
    ),
}
