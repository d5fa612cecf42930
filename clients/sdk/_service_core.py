"""What a service client does, as sans-I/O flows (clients.sdk._flow): written once for
`ServiceClient` and `AsyncServiceClient`.

Per request:

- every form call to an OAuth-style endpoint carries a fresh `private_key_jwt` assertion
  (`aud` = the issuer from discovery); each assertion works once, so a retried request gets
  a new one;
- every token and resource request carries a new DPoP proof; the resource request's proof has
  `ath`. When the vault asks for a DPoP nonce (RFC 9449 §8: 400 `use_dpop_nonce` at the token
  endpoint; §9: 401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"` at the data API) with a
  `DPoP-Nonce` header, the request is sent once more with that nonce; every `DPoP-Nonce` the
  vault sends is remembered (one for the token endpoint, one for the data API) for the next
  proofs;
- tokens are kept per grant in the `TokenStore` and refreshed, under a per-grant lock, when
  the access token is within `refresh_margin` of its end or the vault calls it invalid; the
  refresh token rotates, so the newest pair replaces the old one before anything else is
  sent. A refresh the vault refuses (`invalid_grant`) means the grant is over: the tokens are
  forgotten, the cache purged, `GrantEnded` raised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from clients.sdk._discovery import CIBA_GRANT, VaultMetadata
from clients.sdk._errors import (
    OAUTH_ERRORS,
    AuthError,
    AuthorizationPending,
    GrantEnded,
    InvalidRequest,
    NotFound,
    ProtocolError,
    RequestExpired,
    ServerError,
    SetRejected,
    SignatureInvalid,
    SlowDown,
    TransportError,
)
from clients.sdk._flow import Call, Flow, Locked, Sleep
from clients.sdk._grants import (
    DPV_CONSENT,
    AccessRequest,
    BrowserAuthorization,
    Grant,
    Procedure,
    Purpose,
    StoredGrant,
    TokenStore,
    authorization_details,
)
from clients.sdk._http import error_for, json_body
from clients.sdk._jose import (
    CLIENT_ASSERTION_TYPE,
    ServiceKey,
    client_assertion,
    dpop_proof,
    normalised_title,
    record_signature,
    verify_record_signature,
)
from clients.sdk._records import Record, RecordSignature
from clients.sdk.events import Event, EventBatch, GrantCache, SetVerification

__all__ = ["ServiceCore"]

AUTHORIZATION_CODE: Final = "authorization_code"
MAX_POLL_BACKOFF: Final = 60.0  # seconds between polls while the vault is unreachable
LONG_POLL_TIMEOUT: Final = 75.0  # the vault holds an event poll for up to 60 s
_JSON = {"Accept": "application/json"}


def _oauth_error(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get("error") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _nonce_requested(response: httpx.Response) -> bool:
    if response.status_code not in (400, 401) or not response.headers.get("dpop-nonce"):
        return False
    challenge = response.headers.get("www-authenticate", "")
    return 'error="use_dpop_nonce"' in challenge or _oauth_error(response) == "use_dpop_nonce"


def _raise_unless_ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 300:
        raise error_for(response)
    return response


def _as_procedure(procedure: Procedure | str) -> Procedure:
    return Procedure(procedure) if isinstance(procedure, str) else procedure


def _s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def callback_params(callback: str | Mapping[str, str]) -> dict[str, str]:
    """The parameters the vault sent the browser back with: from the callback URL (or its
    query string) or a mapping a web framework parsed. A parameter given twice is refused
    (RFC 6749 §3.1): which one would count is exactly what an attacker would pick."""
    if not isinstance(callback, str):
        return {str(k): str(v) for k, v in callback.items()}
    query = urlsplit(callback).query if "?" in callback else callback.lstrip("?")
    parsed = parse_qs(query, keep_blank_values=True)
    if any(len(values) != 1 for values in parsed.values()):
        raise InvalidRequest("a parameter of the callback is repeated", code="invalid_request")
    return {k: v[0] for k, v in parsed.items()}


class ServiceCore:
    def __init__(
        self,
        *,
        vault_url: str,
        client_id: str,
        key: ServiceKey,
        dpop_key: ServiceKey,
        tokens: TokenStore,
        cache: GrantCache | None,
        events: SetVerification,
        clock: Callable[[], float],
        refresh_margin: float,
        assertion_lifetime: int,
    ) -> None:
        if not client_id:
            raise ValueError("client_id is required")
        self.vault_url = vault_url
        self.client_id = client_id
        self.key = key
        self.dpop_key = dpop_key
        self.tokens = tokens
        self.cache = cache
        self.events = events
        self._clock = clock
        self._margin = refresh_margin
        self._assertion_lifetime = assertion_lifetime
        self._nonces: dict[str, str] = {}  # "token" | "resource" -> the vault's last DPoP-Nonce
        self._set_errors: dict[str, str] = {}  # jti -> RFC 8935 code, sent with the next poll

    # -- building blocks ----------------------------------------------------------------------

    def discover(self) -> Flow[VaultMetadata]:
        return (yield from self.events.discover())

    def assertion(self, audience: str) -> dict[str, str]:
        return {
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": client_assertion(
                self.key,
                client_id=self.client_id,
                audience=audience,
                now=self._clock(),
                lifetime=self._assertion_lifetime,
            ),
        }

    def _form(
        self, meta: VaultMetadata, url: str, fields: Mapping[str, str]
    ) -> Flow[httpx.Response]:
        """A form POST authenticated with a client assertion (no DPoP)."""
        response: httpx.Response = yield Call(
            "POST", url, headers=_JSON, data={**fields, **self.assertion(meta.issuer)}
        )
        return response

    def _note_nonce(self, slot: str, response: httpx.Response) -> None:
        nonce = response.headers.get("dpop-nonce")
        if nonce:
            self._nonces[slot] = nonce

    def _with_nonce(self, slot: str, build: Callable[[str | None], Call]) -> Flow[httpx.Response]:
        response: httpx.Response = yield build(self._nonces.get(slot))
        self._note_nonce(slot, response)
        if _nonce_requested(response):
            response = yield build(self._nonces[slot])
            self._note_nonce(slot, response)
        return response

    def _token_request(self, fields: Mapping[str, str]) -> Flow[httpx.Response]:
        meta = yield from self.discover()
        url = meta.token_endpoint

        def build(nonce: str | None) -> Call:
            proof = dpop_proof(
                self.dpop_key, method="POST", url=url, nonce=nonce, now=self._clock()
            )
            return Call(
                "POST",
                url,
                headers={**_JSON, "DPoP": proof},
                data={**fields, **self.assertion(meta.issuer)},
            )

        return (yield from self._with_nonce("token", build))

    def _stored_from(self, grant: Grant, body: object) -> StoredGrant:
        if not isinstance(body, dict):
            raise ProtocolError("the token response is not an object")
        access, refresh = body.get("access_token"), body.get("refresh_token")
        expires_in = body.get("expires_in")
        if str(body.get("token_type", "")).lower() != "dpop":
            raise ProtocolError("the vault issued a token that is not DPoP-bound")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise ProtocolError("the token response lacks its tokens")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise ProtocolError("the token response says not when the token expires")
        if str(body.get("grant_id", grant.grant_id)) != grant.grant_id:
            raise ProtocolError("the vault answered for another grant")
        return StoredGrant(
            grant=grant,
            access_token=access,
            refresh_token=refresh,
            access_expires_at=self._clock() + float(expires_in),
            jkt=self.dpop_key.thumbprint,
        )

    # -- grants and their tokens ----------------------------------------------------------------

    def stored(self, grant_id: str) -> StoredGrant:
        found = self.tokens.load(grant_id)
        if found is not None:
            if found.jkt != self.dpop_key.thumbprint:
                raise AuthError(
                    "this grant's tokens are bound to another DPoP key: configure the client"
                    " with the dpop_key it had when the grant was redeemed"
                )
            return found
        reason = self.tokens.ended(grant_id)
        if reason is not None:
            raise GrantEnded(
                f"grant {grant_id} has ended" + ("" if reason == "ended" else f" ({reason})"),
                code="grant-ended",
                body={} if reason == "ended" else {"reason": reason},
            )
        raise NotFound(f"this client holds no tokens for grant {grant_id}")

    def forget(self, grant_id: str, reason: str | None) -> None:
        """The grant is over: drop its tokens and everything cached under it."""
        known = self.tokens.ended(grant_id)
        self.tokens.end(grant_id, reason or known or "ended")
        if self.cache is not None:
            self.cache.purge(grant_id)

    def fresh(self, grant_id: str, *, stale: str | None = None) -> Flow[StoredGrant]:
        """The grant's tokens, refreshed first when the access token is (nearly) expired or
        is `stale` (refused by the vault). Runs under the grant's lock."""
        stored = self.stored(grant_id)
        if stale is None and stored.access_expires_at - self._margin > self._clock():
            return stored
        if stale is not None and stored.access_token != stale:
            return stored  # someone refreshed while we waited for the lock
        response = yield from self._token_request(
            {"grant_type": "refresh_token", "refresh_token": stored.refresh_token}
        )
        if response.status_code >= 400:
            error = error_for(response)
            if error.code == "invalid_grant":
                self.forget(grant_id, None)
                raise GrantEnded(
                    "the vault no longer renews this grant's tokens: the grant has ended"
                    " (or its tokens were revoked); ask the resident again",
                    status=error.status,
                    code="invalid_grant",
                    body=error.body,
                ) from error
            raise error
        renewed = self._stored_from(stored.grant, json_body(response))
        self.tokens.save(renewed)  # the old refresh token is spent: keep only the newest
        return renewed

    def _resource(
        self, grant: Grant | str, method: str, path: str, *, body: Any = None
    ) -> Flow[httpx.Response]:
        grant_id = grant if isinstance(grant, str) else grant.grant_id
        url = self.vault_url + path
        stored: StoredGrant = yield Locked(grant_id, self.fresh(grant_id))

        def build(tokens: StoredGrant) -> Callable[[str | None], Call]:
            def call(nonce: str | None) -> Call:
                proof = dpop_proof(
                    self.dpop_key,
                    method=method,
                    url=url,
                    access_token=tokens.access_token,
                    nonce=nonce,
                    now=self._clock(),
                )
                headers = {**_JSON, "Authorization": f"DPoP {tokens.access_token}", "DPoP": proof}
                return Call(method, url, headers=headers, json=body)

            return call

        response = yield from self._with_nonce("resource", build(stored))
        if response.status_code == 401 and _oauth_error(response) == "invalid_token":
            # Expired early (clock skew), revoked, or its grant ended: a refresh tells which.
            stored = yield Locked(grant_id, self.fresh(grant_id, stale=stored.access_token))
            response = yield from self._with_nonce("resource", build(stored))
        if response.status_code >= 300:
            error = error_for(response)
            if isinstance(error, GrantEnded):
                self.forget(grant_id, error.reason)
            raise error
        return response

    def grant(self, grant_id: str) -> Grant:
        return self.stored(grant_id).grant

    # -- the flow -------------------------------------------------------------------------------

    def connect(self, code: str) -> Flow[str]:
        meta = yield from self.discover()
        response = yield from self._form(
            meta, self.vault_url + "/v1/service/connections", {"code": code.strip()}
        )
        subject = json_body(_raise_unless_ok(response)).get("subject")
        if not isinstance(subject, str):
            raise ProtocolError("the vault's answer has no subject")
        return subject

    def request_access(
        self,
        subject: str,
        *,
        datatypes: Sequence[str],
        actions: Sequence[str],
        purpose: Purpose | str,
        procedure: Procedure | str,
        valid_until: date | datetime | None,
        binding_message: str | None,
        legal_basis: str = DPV_CONSENT,
        ping: bool = False,
        client_notification_token: str | None = None,
    ) -> Flow[AccessRequest]:
        """With `ping` (or a `client_notification_token`), the request is in CIBA ping mode
        (§7.1): the token the vault's ping will carry as its Bearer, made here when not given
        (256 random bits), is sent and returned on the `AccessRequest`. The vault ignores it
        for a service registered for poll mode."""
        procedure = _as_procedure(procedure)
        if ping and client_notification_token is None:
            client_notification_token = secrets.token_urlsafe(32)
        details = authorization_details(
            datatypes=datatypes,
            actions=actions,
            purpose=Purpose(purpose) if isinstance(purpose, str) else purpose,
            procedure=procedure,
            valid_until=valid_until,
            legal_basis=legal_basis,
        )
        fields = {"login_hint": subject, "authorization_details": json.dumps(details)}
        if binding_message is not None:
            fields["binding_message"] = binding_message
        if client_notification_token is not None:
            fields["client_notification_token"] = client_notification_token
        meta = yield from self.discover()
        response = yield from self._form(meta, meta.backchannel_authentication_endpoint, fields)
        body = json_body(_raise_unless_ok(response))
        auth_req_id, expires_in = body.get("auth_req_id"), body.get("expires_in")
        if not isinstance(auth_req_id, str) or not isinstance(expires_in, int | float):
            raise ProtocolError("the vault's answer has no auth_req_id or expires_in")
        interval = body.get("interval", 5)
        return AccessRequest(
            auth_req_id=auth_req_id,
            subject=subject,
            procedure=procedure.ref,
            datatypes=tuple(details[0]["datatypes"]),
            actions=tuple(details[0]["actions"]),
            interval=int(interval) if isinstance(interval, int | float) else 5,
            expires_at=datetime.fromtimestamp(self._clock() + float(expires_in), UTC),
            notification_token=client_notification_token,
        )

    # -- the browser flow (authorization code + PKCE + PAR) ------------------------------------

    def start_authorization(
        self,
        *,
        redirect_uri: str,
        datatypes: Sequence[str],
        actions: Sequence[str],
        purpose: Purpose | str,
        procedure: Procedure | str,
        valid_until: date | datetime | None,
        binding_message: str | None,
        legal_basis: str = DPV_CONSENT,
    ) -> Flow[BrowserAuthorization]:
        """Push the request (RFC 9126) with a fresh PKCE verifier (S256), a fresh `state` and
        `dpop_jkt` (RFC 9449 §10: only this client's DPoP key can redeem the code); the URL
        the resident's browser goes to, with what to keep until it comes back."""
        procedure = _as_procedure(procedure)
        details = authorization_details(
            datatypes=datatypes,
            actions=actions,
            purpose=Purpose(purpose) if isinstance(purpose, str) else purpose,
            procedure=procedure,
            valid_until=valid_until,
            legal_basis=legal_basis,
        )
        if not redirect_uri.startswith(("https://", "http://")):
            raise ValueError("redirect_uri is the http(s) URL registered for your service")
        meta = yield from self.discover()
        par, authorize = meta.pushed_authorization_request_endpoint, meta.authorization_endpoint
        if par is None or authorize is None:
            raise ProtocolError("the vault does not offer the browser flow (no PAR endpoint)")
        verifier = secrets.token_urlsafe(48)  # 64 characters: RFC 7636 §4.1 asks 43 to 128
        state = secrets.token_urlsafe(32)
        fields = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
            "state": state,
            "authorization_details": json.dumps(details),
            "dpop_jkt": self.dpop_key.thumbprint,
        }
        if binding_message is not None:
            fields["binding_message"] = binding_message
        response = yield from self._form(meta, par, fields)
        body = json_body(_raise_unless_ok(response))
        request_uri, expires_in = body.get("request_uri"), body.get("expires_in")
        if not isinstance(request_uri, str) or not isinstance(expires_in, int | float):
            raise ProtocolError("the vault's answer has no request_uri or expires_in")
        query = urlencode({"client_id": self.client_id, "request_uri": request_uri})
        return BrowserAuthorization(
            url=authorize + ("&" if "?" in authorize else "?") + query,
            redirect_uri=redirect_uri,
            state=state,
            code_verifier=verifier,
            procedure=procedure.ref,
            expires_at=datetime.fromtimestamp(self._clock() + float(expires_in), UTC),
        )

    def finish_authorization(
        self, pending: BrowserAuthorization, callback: str | Mapping[str, str]
    ) -> Flow[Grant]:
        """Check the browser's answer and redeem its code: the grant, its tokens kept.

        Before anything is sent: the `state` must be this flow's (else `AuthError`: the
        answer belongs to another browser, or was forged) and `iss` this vault's (RFC 9207;
        else `AuthError`: a mix-up). A refusal in the answer raises as the vault's own
        error would (`access_denied`: `AccessDenied`). The code is then redeemed once with
        the PKCE verifier and a DPoP proof; a code the vault no longer takes is
        `InvalidRequest` (`invalid_grant`)."""
        params = callback_params(callback)
        state = params.get("state", "")
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise AuthError(
                "the callback's state is not this flow's: it was started in another browser"
                " session, or forged; start again",
                code="invalid_state",
            )
        meta = yield from self.discover()
        if params.get("iss", "").rstrip("/") != meta.issuer.rstrip("/"):
            raise AuthError(
                "the callback does not come from this vault (its iss is another issuer)",
                code="invalid_issuer",
            )
        error = params.get("error")
        if error is not None:
            cls = OAUTH_ERRORS.get(error, InvalidRequest)
            raise cls(params.get("error_description") or error, code=error, body=dict(params))
        code = params.get("code")
        if not code:
            raise ProtocolError("the callback has neither a code nor an error")
        response = yield from self._token_request(
            {
                "grant_type": AUTHORIZATION_CODE,
                "code": code,
                "redirect_uri": pending.redirect_uri,
                "code_verifier": pending.code_verifier,
            }
        )
        body = json_body(_raise_unless_ok(response))
        grant_id = body.get("grant_id") if isinstance(body, dict) else None
        subject = body.get("sub") if isinstance(body, dict) else None
        if not isinstance(grant_id, str) or not isinstance(subject, str):
            raise ProtocolError("the token response names no grant or subject")
        grant = Grant.from_details(grant_id, subject, body.get("authorization_details"))
        self.tokens.save(self._stored_from(grant, body))
        return grant

    def poll(self, request: AccessRequest) -> Flow[Grant]:
        """One poll: the grant, or the vault's answer as an error (`AuthorizationPending`,
        `SlowDown`, `AccessDenied`, `RequestExpired`, `InvalidRequest`)."""
        response = yield from self._token_request(
            {"grant_type": CIBA_GRANT, "auth_req_id": request.auth_req_id}
        )
        body = json_body(_raise_unless_ok(response))
        grant_id = body.get("grant_id") if isinstance(body, dict) else None
        if not isinstance(grant_id, str):
            raise ProtocolError("the token response names no grant")
        grant = Grant.from_details(grant_id, request.subject, body.get("authorization_details"))
        self.tokens.save(self._stored_from(grant, body))
        return grant

    def wait(self, request: AccessRequest, *, timeout: float | None) -> Flow[Grant]:
        """Poll until the resident answers: every `interval` seconds, 5 more after each
        `slow_down` (CIBA §11), backing off up to a minute while the vault is unreachable."""
        give_up = None if timeout is None else self._clock() + timeout
        lapses = request.expires_at.timestamp() + 60  # then the vault would say expired_token
        interval = float(max(request.interval, 1))
        delay = 0.0
        failures = 0
        while True:
            if delay:
                now = self._clock()
                if give_up is not None and now + delay > give_up:
                    raise AuthorizationPending(
                        f"the resident has not answered within {timeout:g} seconds; wait again"
                        " later with the same request",
                        code="authorization_pending",
                    )
                if now > lapses:
                    raise RequestExpired(
                        "the request lapsed before the resident answered", code="expired_token"
                    )
                yield Sleep(delay)
            try:
                return (yield from self.poll(request))
            except SlowDown:
                interval += 5
                delay, failures = interval, 0
            except AuthorizationPending:
                delay, failures = interval, 0
            except (ServerError, TransportError) as e:
                failures += 1
                retry_after = getattr(e, "retry_after", None) or 0.0
                delay = min(max(interval * 2 ** (failures - 1), retry_after), MAX_POLL_BACKOFF)

    def list_records(self, grant: Grant | str) -> Flow[list[Record]]:
        response = yield from self._resource(grant, "GET", "/v1/service/records")
        body = json_body(response)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise ProtocolError("the vault's answer has no records")
        return [Record.from_wire(r) for r in records]

    def read_record(self, grant: Grant | str, record_id: str) -> Flow[Record]:
        response = yield from self._resource(grant, "GET", f"/v1/service/records/{record_id}")
        record = Record.from_wire(json_body(response))
        if self.cache is not None:
            self.cache.put(grant if isinstance(grant, str) else grant.grant_id, record.id, record)
        return record

    def write_record(
        self,
        grant: Grant | str,
        *,
        type: str,
        title: str,
        content: Any,
        category: str | None = None,
        sign: bool = False,
    ) -> Flow[Record]:
        body: dict[str, Any] = {
            "category": category or type.split(".", 1)[0],
            "type": type,
            "title": normalised_title(title),
            "content": content,
        }
        if sign:
            body["signature"] = record_signature(
                self.key,
                issuer=self.client_id,
                record_type=type,
                title=body["title"],
                content=content,
            )
        response = yield from self._resource(grant, "POST", "/v1/service/records", body=body)
        return Record.from_wire(json_body(response))

    def relinquish(self, grant: Grant | str) -> Flow[None]:
        grant_id = grant if isinstance(grant, str) else grant.grant_id
        yield from self._resource(grant_id, "POST", "/v1/service/grant/relinquish")
        self.forget(grant_id, "relinquished")

    def close_procedure(self, subject: str, ref: str) -> Flow[int]:
        meta = yield from self.discover()
        response = yield from self._form(
            meta, self.vault_url + "/v1/service/procedures/close", {"subject": subject, "ref": ref}
        )
        ended = json_body(_raise_unless_ok(response)).get("ended_grants")
        for stored in self.tokens.grants():
            if stored.grant.subject == subject and stored.grant.procedure == ref:
                self.forget(stored.grant.grant_id, "procedure-closed")
        return int(ended) if isinstance(ended, int) else 0

    # -- events -----------------------------------------------------------------------------

    def handle_event(self, event: Event) -> None:
        """Apply a verified event to this client: a grant that ended is forgotten (tokens
        and cache). Safe to call twice."""
        if event.type == "grant-ended":
            self.forget(event.grant_id, event.reason)

    def poll_events(
        self, *, ack: Iterable[str], max_events: int | None, wait: bool
    ) -> Flow[EventBatch]:
        meta = yield from self.discover()
        sent_errors = dict(self._set_errors)
        request: dict[str, Any] = {
            **self.assertion(meta.issuer),
            "ack": list(ack),
            "returnImmediately": not wait,
        }
        if sent_errors:
            request["setErrs"] = {
                jti: {"err": err, "description": "refused by the Regie SDK"}
                for jti, err in sent_errors.items()
            }
        if max_events is not None:
            request["maxEvents"] = max_events
        response: httpx.Response = yield Call(
            "POST",
            self.vault_url + "/v1/service/events",
            headers=_JSON,
            json=request,
            timeout=LONG_POLL_TIMEOUT if wait else None,
        )
        body = json_body(_raise_unless_ok(response))
        for jti in sent_errors:
            self._set_errors.pop(jti, None)
        sets = body.get("sets") if isinstance(body, dict) else None
        if not isinstance(sets, dict):
            raise ProtocolError("the vault's event poll answer has no sets")
        events: list[Event] = []
        rejected: dict[str, str] = {}
        for jti, token in sets.items():
            try:
                event = yield from self.events.verify(str(token), check_age=False)
                if event.jti != jti:
                    raise SetRejected("invalid_request", "the SET's jti is not the one listed")
            except SetRejected as e:
                rejected[jti] = e.err
                continue
            self.handle_event(event)
            events.append(event)
        self._set_errors.update(rejected)
        return EventBatch(events, rejected, bool(body.get("moreAvailable")))

    # -- issuer signatures ------------------------------------------------------------------

    def verify_signature(self, record: Record) -> Flow[RecordSignature]:
        signature = record.signature
        if signature is None:
            raise SignatureInvalid("the record carries no issuer signature")
        response: httpx.Response = yield Call(
            "GET", f"{self.vault_url}/v1/issuers/{signature.issuer}", headers=_JSON
        )
        issuer = json_body(_raise_unless_ok(response))
        jwks = issuer.get("jwks") if isinstance(issuer, dict) else None
        uri = issuer.get("jwks_uri") if isinstance(issuer, dict) else None
        if jwks is None and isinstance(uri, str) and uri.startswith("https://"):
            fetched: httpx.Response = yield Call("GET", uri, headers=_JSON)
            jwks = json_body(_raise_unless_ok(fetched))
        if not isinstance(jwks, dict):
            raise SignatureInvalid("the issuer has no keys to check the signature with")
        if record.type is None or record.title is None:
            raise SignatureInvalid("the record has no version to check")
        try:
            verify_record_signature(
                signature.jws,
                issuer=signature.issuer,
                jwks=jwks,
                record_type=record.type,
                title=record.title,
                content=record.content,
            )
        except ValueError as e:
            raise SignatureInvalid(str(e)) from e
        return signature
