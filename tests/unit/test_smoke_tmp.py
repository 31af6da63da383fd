from shared.domain import ClientInfo
from shared.services.accounts import RegisterCommand


def test_register_login(services):
    r = services.accounts.register(RegisterCommand(username="bob", password="secret123"), ClientInfo())
    assert r.user_info["username"] == "bob"
    assert services.accounts.login("BOB", "secret123", None, ClientInfo()).user_info["user_id"] == r.user_info["user_id"]
