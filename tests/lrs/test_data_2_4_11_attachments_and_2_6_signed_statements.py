"""Data 2.4.11 / Communication 1.5.2 (attachments in multipart/mixed, ``attachments=true``) and
Data 2.6 (JWS-signed statements), each test named after the requirement it checks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.core.files.storage import default_storage
from django_scopes import scopes_disabled

from enablement.lrs.attachments import SIGNATURE_USAGE
from enablement.lrs.models import StatementAttachment, attachment_path
from tests.lrs.helpers import q, statement

BOUNDARY = "xapi-boundary-314159"
TEXT = b"here is a simple attachment\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def attachment(content: bytes, **extra) -> dict:
    return {
        "usageType": "http://example.com/attachment-usage/test",
        "display": {"en-US": "A test attachment"},
        "contentType": "text/plain",
        "length": len(content),
        "sha2": sha256(content),
        **extra,
    }


def multipart(statements, parts, *, boundary=BOUNDARY, first_type="application/json") -> bytes:
    """parts: (content, headers) pairs; headers default to the part's hash and binary encoding."""
    out = [f"--{boundary}\r\nContent-Type: {first_type}\r\n\r\n".encode(), json.dumps(statements).encode(), b"\r\n"]
    for content, headers in parts:
        out.append(f"--{boundary}\r\n".encode())
        for k, v in headers.items():
            out.append(f"{k}: {v}\r\n".encode())
        out += [b"\r\n", content, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def part(content: bytes, **override) -> tuple[bytes, dict]:
    headers = {"Content-Type": "text/plain", "Content-Transfer-Encoding": "binary", "X-Experience-API-Hash": sha256(content)}
    headers.update(override)
    return content, {k: v for k, v in headers.items() if v is not None}


def post_multipart(client, body: bytes, boundary=BOUNDARY):
    return client.generic("POST", q("statements"), body, content_type=f"multipart/mixed; boundary={boundary}")


def parse_response(response) -> list[tuple[dict, bytes]]:
    boundary = re.search(r"boundary=(\S+)", response["Content-Type"]).group(1).encode()
    chunks = response.content.split(b"--" + boundary)[1:-1]
    out = []
    for chunk in chunks:
        head, _sep, body = chunk[2:-2].partition(b"\r\n\r\n")  # CRLF after the delimiter, CRLF before the next
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        out.append((headers, body))
    return out


# --- Communication 1.5.2: multipart/mixed in ------------------------------------------------------
@pytest.mark.django_db
def test_data_2_4_11_statement_with_raw_attachment_in_multipart_mixed_is_stored_in_the_tenant_storage(lrs_a, world_a):
    stmt = statement(attachments=[attachment(TEXT)])
    response = post_multipart(lrs_a, multipart(stmt, [part(TEXT)]))
    assert response.status_code == 200, response.content
    with scopes_disabled():
        row = StatementAttachment.objects.get(sha2=sha256(TEXT))
    assert row.tenant_id == world_a.tenant.pk
    assert row.file.name == attachment_path(world_a.tenant.pk, sha256(TEXT))
    assert row.file.name.startswith(f"t{world_a.tenant.pk}/")
    with default_storage.open(row.file.name, "rb") as fh:
        assert fh.read() == TEXT


@pytest.mark.django_db
def test_communication_1_5_1_raw_attachment_without_its_part_is_400_in_json_and_multipart(lrs_a):
    stmt = statement(attachments=[attachment(TEXT)])
    assert lrs_a.post(q("statements"), stmt, format="json").status_code == 400
    assert post_multipart(lrs_a, multipart(stmt, [])).status_code == 400


@pytest.mark.django_db
def test_communication_1_5_1_file_url_attachment_in_json_is_accepted(lrs_a):
    stmt = statement(attachments=[attachment(TEXT, fileUrl="http://example.com/file.txt")])
    assert lrs_a.post(q("statements"), stmt, format="json").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["no_hash_header", "hash_mismatch", "content_not_matching_hash", "not_binary", "excess_part", "first_not_json"])
def test_communication_1_5_2_malformed_multipart_is_400(lrs_a, case):
    stmt = statement(attachments=[attachment(TEXT)])
    parts = [part(TEXT)]
    first = "application/json"
    if case == "no_hash_header":
        parts = [part(TEXT, **{"X-Experience-API-Hash": None})]
    elif case == "hash_mismatch":
        parts = [part(TEXT, **{"X-Experience-API-Hash": sha256(b"other")})]
    elif case == "content_not_matching_hash":
        parts = [(b"tampered", part(TEXT)[1])]
    elif case == "not_binary":
        parts = [part(TEXT, **{"Content-Transfer-Encoding": "base64"})]
    elif case == "excess_part":
        parts = [part(TEXT), part(b"extra")]
    elif case == "first_not_json":
        first = "text/plain"
    response = post_multipart(lrs_a, multipart(stmt, parts, first_type=first))
    assert response.status_code == 400, (case, response.content)


@pytest.mark.django_db
def test_communication_1_5_2_multipart_without_boundary_parameter_or_delimiters_is_400(lrs_a):
    stmt = statement(attachments=[attachment(TEXT)])
    body = multipart(stmt, [part(TEXT)])
    assert lrs_a.generic("POST", q("statements"), body, content_type="multipart/mixed").status_code == 400
    assert post_multipart(lrs_a, body.replace(f"--{BOUNDARY}\r\n".encode(), b"", 1)).status_code == 400


@pytest.mark.django_db
def test_communication_1_5_2_attachment_larger_than_the_limit_is_refused(lrs_a, settings):
    settings.LRS_ATTACHMENT_MAX_BYTES = 10
    stmt = statement(attachments=[attachment(TEXT)])
    assert post_multipart(lrs_a, multipart(stmt, [part(TEXT)])).status_code == 400
    settings.LRS_REQUEST_MAX_BYTES = 100
    assert post_multipart(lrs_a, multipart(stmt, [part(TEXT)])).status_code == 413


@pytest.mark.django_db
def test_data_2_4_11_put_with_multipart_and_same_attachment_twice_is_stored_once(lrs_a):
    sid = str(uuid.uuid4())
    stmt = statement(attachments=[attachment(TEXT)])
    response = lrs_a.generic("PUT", q("statements", statementId=sid), multipart(stmt, [part(TEXT)]), content_type=f"multipart/mixed; boundary={BOUNDARY}")
    assert response.status_code == 204, response.content
    assert post_multipart(lrs_a, multipart([statement(attachments=[attachment(TEXT)])], [part(TEXT)])).status_code == 200
    with scopes_disabled():
        assert StatementAttachment.objects.filter(sha2=sha256(TEXT)).count() == 1


# --- Communication 2.1.3: attachments=true out -----------------------------------------------------
@pytest.mark.django_db
def test_communication_2_1_3_attachments_true_returns_multipart_with_the_statement_then_its_attachment(lrs_a):
    stmt = statement(attachments=[attachment(TEXT)])
    sid = post_multipart(lrs_a, multipart(stmt, [part(TEXT)])).json()[0]
    single = lrs_a.get(q("statements", statementId=sid, attachments="true"))
    assert single.status_code == 200
    assert single["Content-Type"].startswith("multipart/mixed; boundary=")
    assert single["X-Experience-API-Version"] == "1.0.3"
    parts = parse_response(single)
    assert parts[0][0]["Content-Type"] == "application/json"
    assert json.loads(parts[0][1])["id"] == sid
    assert parts[1][0]["X-Experience-API-Hash"] == sha256(TEXT)
    assert parts[1][0]["Content-Transfer-Encoding"] == "binary"
    assert parts[1][1] == TEXT
    listing = parse_response(lrs_a.get(q("statements", attachments="true")))
    assert [s["id"] for s in json.loads(listing[0][1])["statements"]] == [sid]
    assert listing[1][1] == TEXT


@pytest.mark.django_db
def test_communication_2_1_3_without_attachments_true_the_answer_is_json(lrs_a):
    stmt = statement(attachments=[attachment(TEXT)])
    sid = post_multipart(lrs_a, multipart(stmt, [part(TEXT)])).json()[0]
    for params in ({}, {"attachments": "false"}):
        response = lrs_a.get(q("statements", statementId=sid, **params))
        assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_two_tenants_attachments_do_not_leak(lrs_a, lrs_b):
    stmt = statement(attachments=[attachment(TEXT)])
    assert post_multipart(lrs_a, multipart(stmt, [part(TEXT)])).status_code == 200
    # B refers to the same sha2 without sending the content: B has no such attachment
    other = statement(attachments=[attachment(TEXT, fileUrl="http://example.com/t.txt")])
    sid = lrs_b.post(q("statements"), other, format="json").json()[0]
    parts = parse_response(lrs_b.get(q("statements", statementId=sid, attachments="true")))
    assert len(parts) == 1  # the JSON only: tenant A's content is not served to B


# --- Data 2.6: signed statements ---------------------------------------------------------------------
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(key) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Shien test signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def jws(payload, key, alg="RS256", *, x5c=True, header_extra=None) -> bytes:
    header = {"alg": alg, **({"x5c": [_cert(key)]} if x5c else {}), **(header_extra or {})}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}"
    digest = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}.get(alg, hashes.SHA256())
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), digest)
    return f"{signing_input}.{_b64url(signature)}".encode()


def signed(stmt: dict, token: bytes, content_type="application/octet-stream") -> bytes:
    full = {**stmt, "attachments": [{**attachment(token), "usageType": SIGNATURE_USAGE, "contentType": content_type}]}
    return multipart(full, [part(token, **{"Content-Type": "application/octet-stream"})])


@pytest.mark.django_db
@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_data_2_6_signed_statement_with_rs_algorithm_and_x5c_is_verified_and_accepted(lrs_a, rsa_key, alg):
    stmt = statement(id=str(uuid.uuid4()))
    token = jws(stmt, rsa_key, alg)
    response = post_multipart(lrs_a, signed(stmt, token))
    assert response.status_code == 200, response.content
    parts = parse_response(lrs_a.get(q("statements", statementId=stmt["id"], attachments="true")))
    assert parts[1][1] == token  # the signature is kept and returned with the statement


@pytest.mark.django_db
def test_data_2_6_signature_without_x5c_is_checked_for_algorithm_and_payload(lrs_a, rsa_key):
    stmt = statement(id=str(uuid.uuid4()))
    assert post_multipart(lrs_a, signed(stmt, jws(stmt, rsa_key, x5c=False))).status_code == 200


@pytest.mark.django_db
def test_data_2_6_payload_may_differ_only_in_what_the_lrs_sets(lrs_a, rsa_key):
    stmt = statement(id=str(uuid.uuid4()), timestamp="2026-04-01T10:15:00Z")
    payload = {k: v for k, v in stmt.items() if k != "timestamp"}  # signed before the timestamp was set
    payload["verb"] = {"id": stmt["verb"]["id"], "display": {"ja-JP": "体験した"}}  # display is not compared
    assert post_multipart(lrs_a, signed(stmt, jws(payload, rsa_key))).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["hs256", "payload_differs", "bad_signature", "not_jws", "payload_not_json", "wrong_content_type"])
def test_data_2_6_invalid_signature_is_400(lrs_a, rsa_key, case):
    stmt = statement(id=str(uuid.uuid4()))
    content_type = "application/octet-stream"
    if case == "hs256":
        token = jws(stmt, rsa_key, "HS256")
    elif case == "payload_differs":
        token = jws({**stmt, "object": {"id": "http://example.com/other"}}, rsa_key)
    elif case == "bad_signature":
        head, payload, _sig = jws(stmt, rsa_key).split(b".")
        token = head + b"." + payload + b"." + _b64url(b"\x00" * 256).encode()
    elif case == "not_jws":
        token = b"not a signature"
    elif case == "payload_not_json":
        head = _b64url(json.dumps({"alg": "RS256"}).encode())
        token = f"{head}.{_b64url(b'{not json')}.{_b64url(b'sig')}".encode()
    else:
        token = jws(stmt, rsa_key)
        content_type = "text/plain"
    response = post_multipart(lrs_a, signed(stmt, token, content_type))
    assert response.status_code == 400, (case, response.content)
