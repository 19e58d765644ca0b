"""pysaml2 as the other side of Lamba's SAML tests.

  saml_peer.py sp-accept DIR   pysaml2 as a service provider: reads
      DIR/idp-metadata.xml (Lamba's IdP metadata) and DIR/response.b64 (a
      response Lamba issued) and prints what it accepted, as JSON.
  saml_peer.py idp-issue DIR   pysaml2 as an identity provider: reads
      DIR/sp-metadata.xml, DIR/idp-key.pem, DIR/idp-cert.pem, DIR/args.json
      and writes DIR/response.xml, signed on the response and the assertion
      with RSA-SHA256 and SHA-256 digests (pysaml2 defaults to SHA-1).

  saml_peer.py keygen DIR      writes DIR/idp-key.pem and DIR/idp-cert.pem,
      an RSA key and its self-signed certificate (with `cryptography`,
      which pysaml2 depends on).
  saml_peer.py idp-answer DIR  pysaml2 as the identity provider of Lamba's
      service provider: reads DIR/sp-metadata.xml (fetched from Lamba),
      DIR/idp-key.pem, DIR/idp-cert.pem and DIR/args.json (the request as
      the browser brought it: binding, SAMLRequest, RelayState, SigAlg,
      Signature; whether to require it signed; what to sign; who signed in)
      and prints, as JSON, the request it parsed and the base64 response.

Exits non-zero, with the reason on stderr, when pysaml2 refuses.
"""

import json
import os
import sys

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import IdPConfig, SPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

XMLSEC = "/usr/bin/xmlsec1"


def sp_accept(directory):
    with open(os.path.join(directory, "args.json")) as f:
        args = json.load(f)
    config = SPConfig()
    config.load(
        {
            "entityid": args["sp_entity_id"],
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [(args["acs_url"], BINDING_HTTP_POST)]
                    },
                    "want_response_signed": False,
                    "want_assertions_signed": False,
                    "want_assertions_or_response_signed": True,
                    "allow_unsolicited": False,
                }
            },
            "metadata": {"local": [os.path.join(directory, "idp-metadata.xml")]},
            "xmlsec_binary": XMLSEC,
            "allow_unknown_attributes": True,
        }
    )
    client = Saml2Client(config=config)
    with open(os.path.join(directory, "response.b64")) as f:
        encoded = f.read()
    response = client.parse_authn_request_response(
        encoded, BINDING_HTTP_POST, outstanding={args["in_response_to"]: "/"}
    )
    if response is None:
        sys.exit("pysaml2 returned no response")
    print(
        json.dumps(
            {
                "name_id": response.name_id.text,
                "name_id_format": response.name_id.format,
                "issuer": response.issuer(),
                "attributes": response.ava,
                "session_index": response.session_info().get("session_index"),
            }
        )
    )


def idp_issue(directory):
    with open(os.path.join(directory, "args.json")) as f:
        args = json.load(f)
    config = IdPConfig()
    config.load(
        {
            "entityid": args["idp_entity_id"],
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(args["sso_url"], BINDING_HTTP_REDIRECT)]
                    },
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}},
                }
            },
            "key_file": os.path.join(directory, "idp-key.pem"),
            "cert_file": os.path.join(directory, "idp-cert.pem"),
            "metadata": {"local": [os.path.join(directory, "sp-metadata.xml")]},
            "xmlsec_binary": XMLSEC,
        }
    )
    server = Server(config=config)
    response = server.create_authn_response(
        identity=args["attributes"],
        in_response_to=args["in_response_to"],
        destination=args["acs_url"],
        sp_entity_id=args["sp_entity_id"],
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=args["name_id"]),
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
        sign_response=True,
        sign_assertion=True,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    with open(os.path.join(directory, "response.xml"), "w") as f:
        f.write(str(response))


def keygen(directory):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pysaml2 test idp")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    with open(os.path.join(directory, "idp-key.pem"), "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(os.path.join(directory, "idp-cert.pem"), "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))


def idp_answer(directory):
    import base64

    from saml2.xmldsig import DIGEST_SHA1, SIG_RSA_SHA1

    with open(os.path.join(directory, "args.json")) as f:
        args = json.load(f)
    binding = BINDING_HTTP_REDIRECT if args["binding"] == "redirect" else BINDING_HTTP_POST
    config = IdPConfig()
    config.load(
        {
            "entityid": args["idp_entity_id"],
            "service": {
                "idp": {
                    "endpoints": {"single_sign_on_service": [(args["sso_url"], binding)]},
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    "want_authn_requests_signed": args["require_signed"],
                    "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}},
                }
            },
            "key_file": os.path.join(directory, "idp-key.pem"),
            "cert_file": os.path.join(directory, "idp-cert.pem"),
            "metadata": {"local": [os.path.join(directory, "sp-metadata.xml")]},
            "xmlsec_binary": XMLSEC,
        }
    )
    server = Server(config=config)
    request = server.parse_authn_request(
        args["saml_request"],
        binding,
        relay_state=args.get("relay_state"),
        sigalg=args.get("sig_alg"),
        signature=args.get("signature"),
    )
    if request is None:
        sys.exit("pysaml2 could not parse the AuthnRequest")
    message = request.message
    sha1 = args.get("sha1", False)
    response = server.create_authn_response(
        identity=args["attributes"],
        in_response_to=args.get("in_response_to", message.id),
        destination=message.assertion_consumer_service_url,
        sp_entity_id=args.get("audience", message.issuer.text),
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=args["name_id"]),
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
        sign_response=args["sign_response"],
        sign_assertion=args["sign_assertion"],
        sign_alg=SIG_RSA_SHA1 if sha1 else SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA1 if sha1 else DIGEST_SHA256,
    )
    print(
        json.dumps(
            {
                "request": {
                    "id": message.id,
                    "issuer": message.issuer.text,
                    "acs_url": message.assertion_consumer_service_url,
                    "destination": message.destination,
                    "name_id_format": message.name_id_policy.format if message.name_id_policy else None,
                    "signed": message.signature is not None or args.get("signature") is not None,
                },
                "saml_response": base64.b64encode(str(response).encode()).decode(),
            }
        )
    )


if __name__ == "__main__":
    {"sp-accept": sp_accept, "idp-issue": idp_issue, "keygen": keygen, "idp-answer": idp_answer}[sys.argv[1]](
        sys.argv[2]
    )
