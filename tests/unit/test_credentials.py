"""Unit tests for stateless JWT API keys."""

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import jwt
import pytest

from honcho_server.domain.credentials import (
    CredentialError,
    Principal,
    mint_key,
    parse_authorization_header,
    verify_key,
)

SECRET = "test-secret-that-is-long-enough-for-hs256"
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _sign(payload: dict, *, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, secret.encode("utf-8"), algorithm=algorithm)


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _error(token: str, *, secret: str = SECRET, now: datetime = NOW) -> str:
    with pytest.raises(CredentialError) as caught:
        verify_key(secret, token, now=now)
    assert str(caught.value) == caught.value.message
    return caught.value.message


# --- round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"admin": True}, Principal(admin=True, workspace=None, peer=None, session=None)),
        ({"workspace": "w1"}, Principal(admin=False, workspace="w1", peer=None, session=None)),
        (
            {"workspace": "w1", "peer": "alice"},
            Principal(admin=False, workspace="w1", peer="alice", session=None),
        ),
        (
            {"workspace": "w1", "session": "s1"},
            Principal(admin=False, workspace="w1", peer=None, session="s1"),
        ),
        (
            {"workspace": "w1", "peer": "alice", "session": "s1"},
            Principal(admin=False, workspace="w1", peer="alice", session="s1"),
        ),
    ],
)
def test_round_trip(kwargs, expected):
    token = mint_key(SECRET, now=NOW, **kwargs)
    assert verify_key(SECRET, token, now=NOW) == expected


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        ({"admin": True}, "admin"),
        ({"admin": True, "workspace": "w1"}, "admin"),
        ({"workspace": "w1"}, "workspace"),
        ({"workspace": "w1", "peer": "alice"}, "peer"),
        ({"workspace": "w1", "session": "s1"}, "session"),
        ({"workspace": "w1", "peer": "alice", "session": "s1"}, "session"),
    ],
)
def test_kind_is_narrowest_claim(kwargs, kind):
    assert verify_key(SECRET, mint_key(SECRET, now=NOW, **kwargs), now=NOW).kind == kind


def test_anonymous_admin():
    principal = Principal.anonymous_admin()
    assert principal.kind == "admin"
    assert (principal.workspace, principal.peer, principal.session) == (None, None, None)


def test_principal_rejects_impossible_scopes():
    with pytest.raises(ValueError):
        Principal(admin=False, workspace=None, peer="alice", session=None)
    with pytest.raises(ValueError):
        Principal(admin=False, workspace=None, peer=None, session=None)


# --- minting ----------------------------------------------------------------------------------------


def test_mint_writes_short_claims_and_omits_none():
    token = mint_key(SECRET, workspace="w1", peer="alice", now=NOW)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert _claims(token) == {"t": "2025-01-02T03:04:05Z", "w": "w1", "p": "alice"}


def test_mint_admin_claim():
    assert _claims(mint_key(SECRET, admin=True, now=NOW)) == {"t": "2025-01-02T03:04:05Z", "ad": True}


def test_mint_writes_integer_numeric_date_exp():
    expires_at = NOW + timedelta(hours=1, microseconds=500)
    claims = _claims(mint_key(SECRET, workspace="w1", expires_at=expires_at, now=NOW))
    assert claims["exp"] == int(NOW.timestamp()) + 3600
    assert isinstance(claims["exp"], int)


def test_mint_naive_datetimes_are_utc():
    naive_now = datetime(2025, 1, 2, 3, 4, 5)  # noqa: DTZ001 - deliberately naive
    naive_exp = datetime(2025, 1, 2, 4, 4, 5)  # noqa: DTZ001 - deliberately naive
    claims = _claims(mint_key(SECRET, workspace="w1", expires_at=naive_exp, now=naive_now))
    assert claims["t"] == "2025-01-02T03:04:05Z"
    assert claims["exp"] == int(NOW.timestamp()) + 3600


def test_mint_converts_offset_now_to_utc():
    now = datetime(2025, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert _claims(mint_key(SECRET, workspace="w1", now=now))["t"] == "2025-01-02T03:04:05Z"


@pytest.mark.parametrize("kwargs", [{}, {"admin": False}, {"workspace": "", "peer": "", "session": ""}])
def test_mint_requires_some_scope(kwargs):
    with pytest.raises(ValueError, match="At least one of workspace_id, peer_id, or session_id"):
        mint_key(SECRET, now=NOW, **kwargs)


@pytest.mark.parametrize("kwargs", [{"peer": "alice"}, {"session": "s1"}, {"admin": True, "peer": "alice"}])
def test_mint_peer_or_session_requires_workspace(kwargs):
    with pytest.raises(ValueError, match="workspace_id is required when scoping a key to a peer or session"):
        mint_key(SECRET, now=NOW, **kwargs)


# --- signature and algorithm ------------------------------------------------------------------------


def test_tampered_signature():
    header, payload, signature = mint_key(SECRET, workspace="w1", now=NOW).split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"
    assert _error(tampered) == "Invalid JWT"


def test_tampered_payload():
    header, _, signature = mint_key(SECRET, workspace="w1", now=NOW).split(".")
    forged = _b64({"t": "", "ad": True})
    assert _error(f"{header}.{forged}.{signature}") == "Invalid JWT"


def test_wrong_secret():
    token = mint_key("another-secret-that-is-long-enough-too", admin=True, now=NOW)
    assert _error(token) == "Invalid JWT"


def test_alg_none_token_rejected():
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'t': '', 'ad': True})}."
    assert _error(token) == "Invalid JWT"


def test_alg_none_token_with_hs256_signature_rejected():
    genuine_signature = mint_key(SECRET, admin=True, now=NOW).split(".")[2]
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'t': '', 'ad': True})}.{genuine_signature}"
    assert _error(token) == "Invalid JWT"


def test_hs512_token_rejected():
    token = _sign({"t": "", "ad": True}, secret=SECRET * 2, algorithm="HS512")
    assert _error(token, secret=SECRET * 2) == "Invalid JWT"


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "....", _b64({"alg": "HS256"})])
def test_garbage_rejected(token):
    assert _error(token) == "Invalid JWT"


def test_non_object_payload_rejected():
    assert _error(jwt.api_jws.encode(b'["w1"]', SECRET.encode(), algorithm="HS256")) == "Invalid JWT"


def test_non_ascii_secret_is_utf8():
    secret = "clé-secrète-😀-assez-longue-pour-hs256"
    token = jwt.encode({"t": "", "w": "w1"}, secret, algorithm="HS256")
    assert verify_key(secret, token, now=NOW).workspace == "w1"


def test_reference_style_token_accepted():
    """The reference mints `t` and `exp` as ISO strings and omits None claims."""
    token = _sign({"t": "2024-06-01T00:00:00Z", "exp": "2030-01-01T00:00:00Z", "w": "w1", "s": "s1"})
    assert verify_key(SECRET, token, now=NOW) == Principal(
        admin=False, workspace="w1", peer=None, session="s1"
    )


# --- expiry ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exp",
    [
        "2025-01-02T03:04:06Z",
        "2025-01-02T03:04:06+00:00",
        "2025-01-02T04:04:06+01:00",
        "2025-01-02T03:04:06",
        "2025-01-02T03:04:05.500000Z",
        "2099-12-31T23:59:59Z",
        int(NOW.timestamp()) + 1,
        NOW.timestamp() + 0.5,
        10**30,
    ],
)
def test_future_exp_accepted(exp):
    assert verify_key(SECRET, _sign({"t": "", "w": "w1", "exp": exp}), now=NOW).workspace == "w1"


@pytest.mark.parametrize(
    "exp",
    [
        "2025-01-02T03:04:04Z",
        "2025-01-02T03:04:05Z",
        "2025-01-02T04:04:04+01:00",
        "2025-01-02T03:04:04",
        "2020-01-01T00:00:00z",
        int(NOW.timestamp()),
        int(NOW.timestamp()) - 1,
        NOW.timestamp() - 0.5,
        0,
        -(10**30),
    ],
)
def test_past_exp_rejected(exp):
    assert _error(_sign({"t": "", "w": "w1", "exp": exp})) == "JWT expired"


def test_minted_expiry_enforced():
    token = mint_key(SECRET, admin=True, expires_at=NOW + timedelta(minutes=5), now=NOW)
    assert verify_key(SECRET, token, now=NOW + timedelta(minutes=4)).admin
    assert _error(token, now=NOW + timedelta(minutes=5)) == "JWT expired"


def test_naive_now_is_utc():
    token = _sign({"t": "", "w": "w1", "exp": "2025-01-02T03:04:06Z"})
    assert verify_key(SECRET, token, now=datetime(2025, 1, 2, 3, 4, 5)).workspace == "w1"  # noqa: DTZ001
    assert _error(token, now=datetime(2025, 1, 2, 3, 4, 6)) == "JWT expired"  # noqa: DTZ001


def test_null_exp_is_absent():
    assert verify_key(SECRET, _sign({"t": "", "w": "w1", "exp": None}), now=NOW).workspace == "w1"


@pytest.mark.parametrize(
    "exp", ["", "tomorrow", "2025-13-01T00:00:00Z", "2025-01-02T03:04:06Q", True, [1], {}]
)
def test_unparseable_exp_rejected(exp):
    assert _error(_sign({"t": "", "w": "w1", "exp": exp})) == "Invalid JWT"


def test_nan_exp_rejected():
    token = _sign({"t": "", "w": "w1", "exp": float("nan")})
    assert b'"exp":NaN' in base64.urlsafe_b64decode(token.split(".")[1] + "==")
    assert _error(token) == "Invalid JWT"


@pytest.mark.parametrize("exp", [float("inf"), float("-inf")])
def test_infinite_exp_rejected(exp):
    token = _sign({"t": "", "w": "w1", "exp": exp})
    assert b'"exp":' + str(exp).replace("inf", "Infinity").encode() in base64.urlsafe_b64decode(
        token.split(".")[1] + "==")
    assert _error(token) == "Invalid JWT"  # not a key that never expires


@pytest.mark.parametrize("expires_at", [NOW, NOW - timedelta(seconds=1), datetime(2001, 1, 1)])  # noqa: DTZ001
def test_mint_refuses_an_expired_key(expires_at):
    with pytest.raises(ValueError, match="expires_at must be in the future"):
        mint_key(SECRET, workspace="w1", expires_at=expires_at, now=NOW)


# --- scope claims -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload", [{"p": "alice"}, {"s": "s1"}, {"p": "alice", "s": "s1"}, {"ad": True, "p": "a"}]
)
def test_peer_or_session_without_workspace(payload):
    assert _error(_sign({"t": "", **payload})) == "Invalid JWT scope: peer/session token missing workspace"


def test_empty_workspace_counts_as_missing():
    assert _error(_sign({"t": "", "w": "", "p": "alice"})) == (
        "Invalid JWT scope: peer/session token missing workspace"
    )


def test_empty_strings_treated_as_absent():
    token = _sign({"t": "", "w": "w1", "p": "", "s": ""})
    principal = verify_key(SECRET, token, now=NOW)
    assert principal == Principal(admin=False, workspace="w1", peer=None, session=None)
    assert principal.kind == "workspace"
    token = _sign({"t": "", "ad": True, "w": "", "p": "", "s": ""})
    assert verify_key(SECRET, token, now=NOW) == Principal.anonymous_admin()


@pytest.mark.parametrize(
    "payload",
    [{}, {"t": ""}, {"t": "", "ad": False}, {"t": "", "w": "", "p": "", "s": ""}, {"ad": None, "w": None}],
)
def test_no_scope_claims_is_invalid(payload):
    assert _error(_sign(payload)) == "Invalid JWT"


@pytest.mark.parametrize(
    "payload", [{"w": 1}, {"w": ["w1"]}, {"w": "w1", "p": 7}, {"w": "w1", "s": {}}, {"ad": "true"}, {"ad": 1}]
)
def test_wrong_claim_types_are_invalid(payload):
    assert _error(_sign({"t": "", **payload})) == "Invalid JWT"


def test_missing_t_is_fine():
    assert verify_key(SECRET, _sign({"w": "w1"}), now=NOW).workspace == "w1"


# --- Authorization header ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("BeArEr abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("  Bearer abc", "abc"),
    ],
)
def test_parse_authorization_header(value, token):
    assert parse_authorization_header(value) == token


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic abc",
        "Token abc",
        "abc",
        "Bearerabc",
        "Bearer: abc",
    ],
)
def test_parse_authorization_header_rejects(value):
    with pytest.raises(CredentialError) as caught:
        parse_authorization_header(value)
    assert caught.value.message == "No access token provided"
