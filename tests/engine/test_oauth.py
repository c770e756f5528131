"""engine/oauth.py against the Google and Microsoft identity emulators (HTTPS on loopback)."""
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from emulators.oauth import GoogleOAuthEmulator, MicrosoftOAuthEmulator
from emulators.tokens import TokenRegistry
from maildesk_mail_client.engine.errors import AuthError
from maildesk_mail_client.engine.oauth import GoogleOAuth, MicrosoftOAuth, RefreshingTokenSource, TokenSet

REDIRECT = "http://127.0.0.1:8069/maildesk/oauth/callback"


@pytest.fixture
def tokens():
    return TokenRegistry()


@pytest.fixture
def google(tokens, monkeypatch):
    with GoogleOAuthEmulator(tokens, login_as="ann@gmail.test") as emulator:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.cert_path)
        yield emulator


@pytest.fixture
def microsoft(tokens, monkeypatch):
    with MicrosoftOAuthEmulator(tokens, login_as="bob@contoso.test") as emulator:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.cert_path)
        yield emulator


def consent(url):
    """What the browser does: follow the consent page to the redirect; returns its query."""
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def google_client(emulator, secret=None):
    return GoogleOAuth(emulator.client_id, secret or emulator.client_secret, auth_uri=emulator.auth_uri,
                       token_uri=emulator.token_uri, revoke_uri=emulator.revoke_uri)


def microsoft_client(emulator, secret=None):
    return MicrosoftOAuth(emulator.client_id, secret or emulator.client_secret, tenant="common",
                          authority_host=emulator.base_url)


# -- Google -----------------------------------------------------------------------------------
def test_google_code_flow_with_pkce(google, tokens):
    client = google_client(google)
    url, verifier = client.start(REDIRECT, "st-1")
    query = parse_qs(urlsplit(url).query)
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert query["code_challenge_method"] == ["S256"]
    answer = consent(url)
    assert answer["state"] == "st-1"
    result = client.finish(REDIRECT, "st-1", answer["code"], verifier)
    assert tokens.user_for(result.access_token) == "ann@gmail.test"
    assert result.refresh_token and not result.expires_within(60)


def test_google_code_is_single_use_and_pkce_bound(google):
    client = google_client(google)
    url, verifier = client.start(REDIRECT, "st")
    code = consent(url)["code"]
    with pytest.raises(AuthError, match="invalid_grant"):
        client.finish(REDIRECT, "st", code, "x" * 64)  # wrong verifier burns nothing usable
    url, verifier = client.start(REDIRECT, "st")
    code = consent(url)["code"]
    client.finish(REDIRECT, "st", code, verifier)
    with pytest.raises(AuthError, match="invalid_grant"):
        client.finish(REDIRECT, "st", code, verifier)  # replay


def test_google_bad_secret_and_denied_consent(google):
    url, verifier = google_client(google).start(REDIRECT, "st")
    code = consent(url)["code"]
    with pytest.raises(AuthError, match="invalid_client"):
        google_client(google, secret="wrong").finish(REDIRECT, "st", code, verifier)
    google.deny = True
    assert consent(google_client(google).start(REDIRECT, "st")[0])["error"] == "access_denied"


def test_google_unregistered_redirect_is_refused_on_the_consent_page(google):
    google.redirect_uris = ["https://odoo.example.com/maildesk/oauth/callback"]
    response = requests.get(google_client(google).start(REDIRECT, "st")[0], allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "redirect_uri_mismatch" in response.text


def test_google_refresh_revoke(google, tokens):
    client = google_client(google)
    url, verifier = client.start(REDIRECT, "st")
    first = client.finish(REDIRECT, "st", consent(url)["code"], verifier)
    second = client.refresh(first.refresh_token)
    assert second.refresh_token == first.refresh_token  # Google keeps it
    assert tokens.user_for(second.access_token) == "ann@gmail.test"
    assert client.revoke(first.refresh_token)
    with pytest.raises(AuthError, match="Reconnect"):
        client.refresh(first.refresh_token)


def test_google_not_configured():
    with pytest.raises(AuthError, match="client id"):
        GoogleOAuth("", "")


# -- Microsoft --------------------------------------------------------------------------------
def test_microsoft_code_flow_through_msal(microsoft, tokens):
    client = microsoft_client(microsoft)
    url, flow = client.start(REDIRECT, "ms-state")
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and "offline_access" in query["scope"][0]
    result = client.finish(flow, consent(url))
    assert result.email == "bob@contoso.test"
    assert tokens.user_for(result.access_token) == "bob@contoso.test"
    assert result.refresh_token


def test_microsoft_state_tampering_is_refused(microsoft):
    client = microsoft_client(microsoft)
    url, flow = client.start(REDIRECT, "good")
    answer = consent(url)
    answer["state"] = "forged"
    with pytest.raises(AuthError, match="state mismatch"):
        client.finish(flow, answer)


def test_microsoft_replay_and_bad_secret(microsoft):
    client = microsoft_client(microsoft)
    url, flow = client.start(REDIRECT, "s")
    answer = consent(url)
    client.finish(dict(flow), answer)
    with pytest.raises(AuthError):
        microsoft_client(microsoft).finish(dict(flow), answer)  # the code was redeemed
    url, flow = client.start(REDIRECT, "s")
    with pytest.raises(AuthError, match="invalid_client"):
        microsoft_client(microsoft, secret="nope").finish(flow, consent(url))


def test_microsoft_rotated_refresh_tokens_are_kept(microsoft, tokens):
    tokens.rotate_refresh = True
    client = microsoft_client(microsoft)
    url, flow = client.start(REDIRECT, "s")
    first = client.finish(flow, consent(url))
    saved = []
    source = RefreshingTokenSource(client, first, on_refresh=saved.append)
    source.get_token(force_refresh=True)
    source.get_token(force_refresh=True)
    assert len(saved) == 2 and saved[0].refresh_token != first.refresh_token != saved[1].refresh_token
    with pytest.raises(AuthError):
        client.refresh(first.refresh_token)  # the old one died with the rotation
    tokens.revoke("bob@contoso.test")
    with pytest.raises(AuthError, match="Reconnect"):
        source.get_token(force_refresh=True)


# -- token source ---------------------------------------------------------------------------------
def test_token_source_refreshes_before_expiry(google, tokens):
    client = google_client(google)
    url, verifier = client.start(REDIRECT, "st")
    first = client.finish(REDIRECT, "st", consent(url)["code"], verifier)
    source = RefreshingTokenSource(client, TokenSet(first.access_token, first.refresh_token, first.expires_at))
    assert source.get_token() == first.access_token  # fresh: no refresh
    source.tokens.expires_at = 0  # within the skew
    refreshed = source.get_token()
    assert refreshed != first.access_token and tokens.refresh_count == 1
