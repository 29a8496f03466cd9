"""The console login itself: right password in, wrong password out, CSRF required."""


def test_login_and_logout(client, console):
    console.login("ops")
    assert client.get("/console/").status_code in (200, 302)
    console.logout()
    assert client.get("/console/").status_code == 302


def test_wrong_password_is_refused(client, console):
    resp = client.post("/console/login", data={"username": "ops", "password": "nope", "csrf_token": console.csrf()})
    assert resp.status_code == 401


def test_login_without_csrf_token_is_refused(client, demo):
    resp = client.post("/console/login", data={"username": "ops", "password": "mallportal-demo"})
    assert resp.status_code == 400
