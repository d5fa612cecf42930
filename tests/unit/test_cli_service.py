"""`regie service ...` without a vault: keys, the JWTs for curl, bad input, exit codes.
(The commands against a real server: tests/e2e/test_sdk_server.py.)"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, import_key
from typer.testing import CliRunner

import clients.sdk as sdk
from api.settings import unknown_environment
from clients.cli.main import app
from clients.cli.service import EXIT_CODES, _exit_code

runner = CliRunner()


def test_keygen_writes_a_private_key_and_the_jwks_to_register(tmp_path: Path) -> None:
    key, jwks = tmp_path / "clinic-key.jwk", tmp_path / "clinic-jwks.json"
    made = runner.invoke(app, ["service", "keygen", str(key), "--jwks", str(jwks), "--json"])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    published = json.loads(jwks.read_text())
    (public,) = published["keys"]
    assert not {"d", "p", "q"} & public.keys()
    assert public["kid"] == json.loads(made.stdout)["kid"] == sdk.ServiceKey.load(key).kid
    again = runner.invoke(app, ["service", "keygen", str(key)])
    assert again.exit_code == 1
    assert "not overwriting" in again.output


def test_assertion_and_proof_are_what_curl_needs(tmp_path: Path) -> None:
    key_file = tmp_path / "k.jwk"
    key = sdk.ServiceKey.generate(kid="clinic-1")
    key.save(key_file)
    public = import_key(key.public_jwk(), "EC")
    made = runner.invoke(
        app,
        ["service", "assertion", "--vault", "http://localhost:8000/", "--client-id", "c1",
         "--key", str(key_file)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    claims = jwt.decode(made.stdout.strip(), public, algorithms=["ES256"]).claims
    assert (claims["iss"], claims["sub"], claims["aud"]) == ("c1", "c1", "http://localhost:8000")
    url = "http://localhost:8000/v1/service/records?x=1"
    proof = runner.invoke(
        app,
        ["service", "proof", "--dpop-key", str(key_file), "--method", "GET", "--url", url,
         "--token", "rat_abc", "--nonce", "n-1"],
    )  # fmt: skip
    assert proof.exit_code == 0, proof.output
    token = proof.stdout.strip()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    checked = jwt.decode(token, ECKey.import_key(header["jwk"]), algorithms=["ES256"]).claims
    ath = base64.urlsafe_b64encode(hashlib.sha256(b"rat_abc").digest()).rstrip(b"=").decode()
    assert (checked["htm"], checked["htu"], checked["ath"], checked["nonce"]) == (
        "GET",
        "http://localhost:8000/v1/service/records",
        ath,
        "n-1",
    )


def test_bad_input_fails_before_anything_is_sent(tmp_path: Path) -> None:
    key_file = tmp_path / "k.jwk"
    sdk.ServiceKey.generate().save(key_file)
    who = ["--vault", "http://localhost:1", "--client-id", "c1", "--key", str(key_file)]
    state = ["--state", str(tmp_path / "state")]
    not_json = runner.invoke(
        app,
        ["service", "write", "g-1", *who, *state, "--type", "t.x", "--title", "T",
         "--content", "{nope", "--json"],
    )  # fmt: skip
    assert not_json.exit_code == 1
    assert json.loads(not_json.stdout) == {"error": "error", "detail": "--content is not JSON"}
    missing_key = runner.invoke(
        app,
        ["service", "connect", "K7QF2", "--vault", "http://localhost:1", "--client-id", "c1",
         "--key", str(tmp_path / "absent.jwk"), *state],
    )  # fmt: skip
    assert missing_key.exit_code == 1
    assert "cannot read the key file" in missing_key.output
    naive = runner.invoke(
        app,
        ["service", "request", *who, *state, "--subject", "s", "--datatype", "health.medication",
         "--purpose", "p", "--procedure", "r", "--valid-until", "2027-02-01T00:00:00"],
    )  # fmt: skip
    assert naive.exit_code == 1
    assert "time zone" in naive.output


def test_listening_for_a_ping_refuses_what_it_cannot_serve(tmp_path: Path) -> None:
    """`wait --listen`: for a request made with --ping only, at a plain http://HOST:PORT URL
    (the CLI serves no TLS); both refused before anything is sent or bound."""
    key_file = tmp_path / "k.jwk"
    sdk.ServiceKey.generate().save(key_file)
    who = ["--vault", "http://localhost:1", "--client-id", "c1", "--key", str(key_file)]
    state = tmp_path / "state"
    state.mkdir()
    asked = {
        "auth_req_id": "rar_poll",
        "subject": "s",
        "procedure": "r",
        "datatypes": ["health.medication"],
        "actions": ["read"],
        "interval": 5,
        "expires_at": "2027-01-01T00:00:00Z",
    }
    pinged = {**asked, "auth_req_id": "rar_ping", "notification_token": "t" * 43}
    (state / "requests.json").write_text(json.dumps({"rar_poll": asked, "rar_ping": pinged}))

    def wait(auth_req_id: str, url: str) -> dict[str, str]:
        done = runner.invoke(
            app,
            ["service", "wait", auth_req_id, *who, "--state", str(state), "--listen", url,
             "--json"],
        )  # fmt: skip
        assert done.exit_code == 1, done.output
        return dict(json.loads(done.stdout))

    assert "not sent with --ping" in wait("rar_poll", "http://127.0.0.1:9100/ping")["detail"]
    for url in ("https://127.0.0.1:9100/ping", "http://127.0.0.1/ping", "127.0.0.1:9100"):
        assert "plain HTTP" in wait("rar_ping", url)["detail"], url


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (sdk.GrantEnded("x"), 4),
        (sdk.RequestExpired("x"), 5),
        (sdk.AccessDenied("x"), 3),
        (sdk.SlowDown("x"), 6),
        (sdk.AuthorizationPending("x"), 6),
        (sdk.AuthError("x"), 7),
        (sdk.TransportError("x"), 8),
        (sdk.Unavailable("x"), 8),
        (sdk.InvalidRequest("x"), 1),
        (sdk.NotFound("x"), 1),
    ],
)
def test_exit_codes_are_the_documented_ones(error: sdk.RegieError, code: int) -> None:
    assert _exit_code(error) == code
    import clients.cli.service as module

    assert module.__doc__ is not None
    assert f"    {code}  " in module.__doc__
    assert len({cls for cls, _ in EXIT_CODES}) == len(EXIT_CODES)


def test_client_variables_are_not_mistaken_for_server_typos() -> None:
    environ = {
        "REGIE_SERVICE_VAULT": "http://localhost:8000",
        "REGIE_SERVICE_KEY": "k.jwk",
        "REGIE_SERVIC_KEY": "a typo",
        "REGIE_PUBLIC_URL": "http://localhost:8000",
    }
    assert unknown_environment(environ) == ["REGIE_SERVIC_KEY"]


def test_the_client_side_loads_no_server_code() -> None:
    # `regie service ...` speaks HTTP only: it must not even import the server's packages.
    probe = (
        "import sys\n"
        "sys.argv = ['regie', 'service', 'proof', '--help']\n"
        "from clients.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'api', 'vault', 'keys', 'sqlalchemy', 'fastapi'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
