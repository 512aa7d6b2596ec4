"""Tokens, credentials and keys: generated not chosen, stored salted, one key per purpose."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from alerts.config import ConfigError, from_settings
from alerts.tokens import (
    WeakKeyError,
    ack_token,
    check_ack_token,
    check_key,
    credential_for,
    generate_token,
    read_session_cookie,
    sign_session,
    user_for_bearer,
    user_for_token,
)
from tests.alerts.helpers import LADDER, LINK_KEY, SESSION_KEY, ladder_config

HOUR = dt.timedelta(hours=1)


def test_a_generated_token_matches_only_its_own_salted_credential() -> None:
    token, other = generate_token(), generate_token()
    credentials = {"insp-4411": credential_for(token), "obs-1": credential_for(other)}
    assert user_for_bearer(f"Bearer {token}", credentials) == "insp-4411"
    assert user_for_token(other, credentials) == "obs-1"
    assert user_for_token(generate_token(), credentials) is None
    assert credential_for(token) != credential_for(token), "salted: the same token never stores the same"
    assert token not in credentials["insp-4411"]


@pytest.mark.parametrize("offered", ["foo", "s3cret-token", "", "wk_" + "é" * 50, "x" * 500])
def test_short_long_or_non_ascii_tokens_are_refused(offered: str) -> None:
    assert user_for_token(offered, {"u": credential_for(offered)}) is None


def test_ack_links_are_signed_expire_and_name_who_they_were_sent_to() -> None:
    key = LINK_KEY.encode()
    token = ack_token(key, "a1", "duty_inspector", "inspector-pager", "link-1")
    verdict, claim = check_ack_token(key, token, HOUR)
    assert verdict == "ok"
    assert claim == {"alert_id": "a1", "role": "duty_inspector", "receiver": "inspector-pager", "link_id": "link-1"}
    assert check_ack_token(SESSION_KEY.encode(), token, HOUR)[0] == "invalid"
    assert check_ack_token(key, token[:-3] + "xyz", HOUR)[0] == "invalid"
    assert check_ack_token(key, "garbage", HOUR)[0] == "invalid"
    assert check_ack_token(key, "ünïcode.sig", HOUR)[0] == "invalid"
    time.sleep(1.1)
    assert check_ack_token(key, token, dt.timedelta(seconds=0))[0] == "expired"


def test_an_ack_link_can_never_pass_as_a_session_even_signed_with_the_same_key() -> None:
    key = LINK_KEY.encode()
    link = ack_token(key, "a1", "duty_inspector", "slack", "link-1")
    assert read_session_cookie(key, link, HOUR) is None
    cookie = sign_session(key, "session-1")
    assert read_session_cookie(key, cookie, HOUR) == "session-1"
    assert check_ack_token(key, cookie, HOUR)[0] == "invalid"
    assert read_session_cookie(key, "ÿ-not-ascii", HOUR) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "not set"),
        ("", "not set"),
        ("short", "too short"),
        ("change-me" * 4, "placeholder"),
        ("a" * 40, "placeholder"),
    ],
)
def test_weak_keys_are_refused(value: str | None, problem: str) -> None:
    with pytest.raises(WeakKeyError, match=problem):
        check_key(value, "WK_KEY")
    assert check_key(SESSION_KEY, "WK_KEY") == SESSION_KEY.encode()


def users_file(credential: str, **extra: str) -> str:
    lines = [f'users: [{{user: insp-4411, access: inspector, token_hash: "{credential}"}}]']
    lines += [f'{k}: "{v}"' for k, v in extra.items()]
    return LADDER + "\n".join(lines) + "\n"


def test_a_file_with_users_needs_its_own_strong_session_key(tmp_path: Path) -> None:
    credential = credential_for(generate_token())
    with pytest.raises(ConfigError, match=r"session_secret.*not set"):
        ladder_config(tmp_path, users_file(credential))
    with pytest.raises(ConfigError, match=r"session_secret.*placeholder"):
        ladder_config(tmp_path, users_file(credential, session_secret="change-me-change-me-change-me-change-me"))
    with pytest.raises(ConfigError, match="must differ from ack_link_secret"):
        ladder_config(tmp_path, users_file(credential, session_secret=LINK_KEY))
    config = ladder_config(tmp_path, users_file(credential, session_secret=SESSION_KEY))
    assert config.session_secret == SESSION_KEY.encode() and config.ack_link_secret == LINK_KEY.encode()


def test_a_hand_made_sha256_token_hash_is_refused_naming_the_field(tmp_path: Path) -> None:
    text = (
        LADDER + "users: [{user: x, token_sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae}]\n"
    )
    with pytest.raises(ConfigError, match=r"notify.yaml: field 'users\[0\].token_sha256'.*watchkeeper users add"):
        ladder_config(tmp_path, text)
    with pytest.raises(ConfigError, match=r"field 'users\[0\].token_hash'"):
        ladder_config(tmp_path, users_file("2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"))


def test_console_users_from_the_environment_need_credentials_and_a_session_key() -> None:
    credential = credential_for(generate_token())
    with pytest.raises(ConfigError, match="WATCHKEEPER_SESSION_SECRET is not set"):
        from_settings(None, None, f"insp-1:inspector:{credential}")
    with pytest.raises(ConfigError, match="credential"):
        from_settings(None, None, "insp-1:inspector:2c26b46b", SESSION_KEY)
    config = from_settings(None, None, f"insp-1:inspector:{credential}", SESSION_KEY)
    assert config.user_access == {"insp-1": "inspector"} and config.session_secret == SESSION_KEY.encode()


def test_machine_receivers_get_no_ack_links_by_default(tmp_path: Path) -> None:
    text = LADDER.replace(
        'control-room: {url: "http://127.0.0.1:9/c"}',
        'control-room: {url: "http://127.0.0.1:9/c"}\n  pager: {url: "http://127.0.0.1:9/p", format: pagerduty, '
        'routing_key: k}\n  am: {url: "http://127.0.0.1:9/a", format: alertmanager}\n  '
        'am-links: {url: "http://127.0.0.1:9/b", format: alertmanager, ack_links: true}',
    )
    config = ladder_config(tmp_path, text)
    links = {name: r.ack_links for name, r in config.receivers.items()}
    assert links["pager"] is False and links["am"] is False and links["am-links"] is True
    assert links["inspector-hook"] is True
