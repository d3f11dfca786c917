async def test_manual_networth(client):
    r = await client.post("/v1/connections/manual", json={"label": "Cash", "asset": "usd", "amount": "1500.25"})
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/connections/manual", json={"label": "Gold", "asset": "XAU", "amount": "2", "price": "2000.5"}
    )
    assert r.status_code == 201, r.text
    r = await client.get("/v1/networth")
    assert r.status_code == 200, r.text
    assert r.json()["total"] == "5501.25"
