"""Login throttling that an attacker cannot turn against the real user (issue 13, finding 3)
and login timing that does not tell which usernames exist (finding 4)."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from app.auth import devices
from app.extensions import db
from app.models import LoginFailure
from app.models.types import utcnow
from app.services import accounts
from config import Config, ConfigError
from tests.conftest import PASSWORD

HOME, ATTACKERS = "10.0.0.1", [f"203.0.113.{n}" for n in range(1, 6)]


def browser(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def log_in(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def known_device(app, username: str, address: str = HOME):
    """A browser the user has logged in on before (and logged out of)."""
    client = browser(app, address)
    assert log_in(client, username).status_code == 303
    assert client.get_cookie(devices.COOKIE) is not None
    assert client.post("/logout").status_code == 303
    return client


def attack(app, username: str, recorded: int = 20) -> list[int]:
    """A spread-out guessing attack on username: `recorded` wrong passwords from several
    addresses over the last minutes, then one more try from each address (statuses)."""
    now = utcnow()
    with app.app_context():
        db.session.add_all(
            LoginFailure(
                username_key=username,
                client_address=ATTACKERS[i % len(ATTACKERS)],
                failed_at=now - timedelta(seconds=10 + 5 * i),
            )
            for i in range(recorded)
        )
        db.session.commit()
    return [
        log_in(browser(app, address), username, "one-more-guess").status_code
        for address in ATTACKERS
    ]


def failures(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(LoginFailure))


def test_an_attacker_cannot_lock_out_the_admin_on_a_known_device(app, users):
    laptop = known_device(app, "admin")
    assert attack(app, "admin") == [429] * len(ATTACKERS)  # the attacker is held back ...
    response = log_in(laptop, "admin")  # ... the admin on their own computer is not
    assert response.status_code == 303
    assert laptop.get("/admin/users").status_code == 200


def test_a_device_unknown_for_the_username_backs_off_and_is_told_why(app, users):
    attack(app, "admin")
    new_laptop = browser(app, "10.0.0.2")
    response = log_in(new_laptop, "admin")
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 60 < retry_after <= app.config["LOGIN_WINDOW_SECONDS"]
    page = response.get_data(as_text=True)
    assert "many failed logins" in page and "Try again in" in page
    assert "a computer you have logged in from before" in page
    with app.app_context():  # Retry-After seconds later, the right password works
        for failure in db.session.scalars(sa.select(LoginFailure)):
            failure.failed_at -= timedelta(seconds=retry_after + 1)
        db.session.commit()
    assert log_in(new_laptop, "admin").status_code == 303


def test_a_device_known_for_another_username_is_not_known_for_this_one(app, users):
    shared = known_device(app, "clerk")
    attack(app, "admin")
    assert log_in(shared, "admin").status_code == 429


def test_a_forged_device_cookie_counts_for_nothing(app, users):
    attack(app, "admin")
    forger = browser(app, HOME)
    forger.set_cookie(devices.COOKIE, "eyJkIjoiYWJjIiwidSI6WyJhZG1pbiJdfQ.forged.signature")
    assert log_in(forger, "admin").status_code == 429


def test_a_known_device_has_its_own_budget_of_failures(app, users):
    limit = app.config["LOGIN_MAX_FAILURES"]
    laptop = known_device(app, "clerk")
    statuses = [log_in(laptop, "clerk", f"guess-{i}").status_code for i in range(limit + 2)]
    assert statuses[:limit] == [401] * limit
    assert statuses[limit:] == [429, 429]  # a stolen device cookie is no free pass
    assert log_in(laptop, "clerk").status_code == 429


def test_per_username_and_address_the_pair_is_throttled_not_the_username(app, users):
    limit = app.config["LOGIN_MAX_FAILURES"]
    office = browser(app, HOME)
    statuses = [log_in(office, "reviewer", f"guess-{i}").status_code for i in range(limit + 1)]
    assert statuses == [401] * limit + [429]
    page = log_in(office, "reviewer").get_data(as_text=True)
    assert "Too many failed logins for this username from your network address." in page
    colleague = browser(app, HOME)  # same office address, another username: not held back
    assert log_in(colleague, "clerk").status_code == 303
    assert failures(app) == limit  # throttled attempts are not even checked


def test_per_address_every_username_counts(app, users):
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    client = browser(app, ATTACKERS[0])
    for i in range(limit):
        assert log_in(client, f"user{i}", "wrong-password").status_code == 401
    response = log_in(client, "admin")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "Too many failed logins from your network address." in response.get_data(as_text=True)
    assert log_in(browser(app, HOME), "admin").status_code == 303


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOGIN_MAX_FAILURES", 3),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", 100),
        ("LOGIN_WINDOW_SECONDS", 900),
    ],
)
def test_limits_and_window_are_settings(monkeypatch, name, value):
    assert getattr(Config(), name) != value
    monkeypatch.setenv(name, str(value))
    assert getattr(Config(), name) == value
    monkeypatch.setenv(name, "none")
    with pytest.raises(ConfigError, match=name):
        getattr(Config(), name)


# --- finding 4: the same hashing work for every username ---------------------------------------


@pytest.fixture
def hash_checks(monkeypatch):
    """The password hashes checked during the test, in order (the real check still runs)."""
    checked: list[str] = []

    def counting(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return check_password_hash(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    return checked


@pytest.mark.parametrize("username", ["nobody-at-all", "inactive", "clerk"])
def test_every_login_checks_one_hash_of_the_configured_cost(
    app, users, make_user, hash_checks, username
):
    make_user("inactive")
    with app.app_context():
        accounts.set_active(accounts.find_user("inactive"), False)
    response = log_in(browser(app, HOME), username, "not-the-password")
    assert response.status_code == 401
    assert len(hash_checks) == 1
    method = app.config["PASSWORD_HASH_METHOD"]
    assert hash_checks[0].startswith(method + "$")  # as costly as a real user's hash
    assert log_in(browser(app, HOME), username, PASSWORD).status_code == (
        303 if username == "clerk" else 401
    )
    assert len(hash_checks) == 2


def test_unknown_users_take_as_long_as_real_ones(app, make_user, users):
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:16384:8:1"  # a real cost: ~50 ms a check
    make_user("real-user")
    make_user("gone")
    with app.app_context():
        accounts.set_active(accounts.find_user("gone"), False)
    client = app.test_client()
    names = {"real": "real-user", "unknown": "no-such-user", "inactive": "gone"}
    times: dict[str, list[float]] = {kind: [] for kind in names}
    for round_ in range(5):  # interleaved, so a busy moment of the machine hits all three
        for kind, username in names.items():
            client.environ_base["REMOTE_ADDR"] = f"10.1.{round_}.{len(kind)}"
            start = time.perf_counter()
            assert log_in(client, username, "wrong-password-x").status_code == 401
            times[kind].append(time.perf_counter() - start)
    real, unknown, inactive = (statistics.median(times[k]) for k in names)
    # Before: 110 ms against 7 ms (a ratio of 0.06). Generous bounds: the machine may be busy.
    assert 0.35 < unknown / real < 3, times
    assert 0.35 < inactive / real < 3, times
