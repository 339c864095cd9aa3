#!/usr/bin/env python3
"""Independent receiver-side check of one Kognita v1 signed batch.

Usage:
    verify_with_pycose.py FILE [--network NET]

FILE holds the COSE_Sign1_Tagged bytes exactly as a device would publish them.
The script applies every rule of the wire contract (docs/PROTOCOL.md,
"Kognita device protocol, version 1"), verifies the Ed25519 signature with
pycose using a key built from the kid, and prints one JSON object:

    {"valid": true, "id": hex, "signer": hex, "batch": {...}}      exit 0
    {"valid": false, "error": text, "reason": reason}               exit 1

It needs pycose (`make setup` puts it in .build-venv: run it as
`.build-venv/bin/python Tests/Interop/verify_with_pycose.py ...`, or
`pip install pycose`); without it, it says so and exits 2, judging
nothing.

"reason" is one of malformed, bad-signature, wrong-network, too-large (the Ack
reason names); the network check only runs when --network is given.

Why not just pycose/cbor2: both are lenient decoders (cbor2.loads silently
ignores trailing bytes, accepts non-shortest integers, indefinite lengths,
unsorted or duplicate map keys, floats and arbitrary tags). The contract
requires rejecting all of those, so the bytes are first run through the small
strict decoder below; pycose is only trusted with the signature.

The module is importable: the vector generator uses `check()` to confirm that
every vector is classified the way it claims.
"""

import hashlib
import json
import re
import sys

MALFORMED = "malformed"
BAD_SIGNATURE = "bad-signature"
WRONG_NETWORK = "wrong-network"
TOO_LARGE = "too-large"

MAX_PAYLOAD = 65536          # "The encoded batch is at most 64 KiB."
MAX_TRANSFERS = 1024
MAX_SENSOR_BYTES = 64
UINT64_MAX = 2**64 - 1
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
NETWORK_RE = re.compile(r"[a-z0-9-]{1,32}")   # used with fullmatch (ASCII only)

ALG_EDDSA = -8       # RFC 9053
ALG_ED25519 = -19    # RFC 9864 (fully specified Ed25519); receivers accept it too

COSE_SIGN1_TAG = 18
MAX_DEPTH = 16       # our structures nest 4 deep; anything deeper is rejected


class Reject(Exception):
    """Input refused; `reason` is the Ack reason name, the message says why."""

    def __init__(self, reason, text):
        super().__init__(text)
        self.reason = reason


def _malformed(text):
    return Reject(MALFORMED, text)


# --------------------------------------------------------------------------
# Strict deterministic CBOR decoder (RFC 8949 section 4.2.1 core rules plus
# the contract's extra restrictions: no floats, no tags, uint map keys).
# --------------------------------------------------------------------------

class Simple:
    """A CBOR simple value other than false/true/null (never valid here)."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"simple({self.value})"


UNDEFINED = Simple(23)


class _Decoder:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def _take(self, n):
        if n > len(self.data) - self.pos:
            raise _malformed(f"truncated input at offset {self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def head(self):
        """Read an initial byte and its argument; enforce shortest form."""
        start = self.pos
        ib = self._take(1)[0]
        major, ai = ib >> 5, ib & 0x1F
        if ai < 24:
            return major, ai, ai
        if ai in (28, 29, 30):
            raise _malformed(f"reserved additional information {ai} at offset {start}")
        if ai == 31:
            if major in (2, 3, 4, 5):
                raise _malformed(f"indefinite length item at offset {start}")
            if major == 7:
                raise _malformed(f"unexpected break code at offset {start}")
            raise _malformed(f"additional information 31 not allowed for major type {major} at offset {start}")
        size = 1 << (ai - 24)                      # 1, 2, 4 or 8 bytes
        arg = int.from_bytes(self._take(size), "big")
        if major == 7:
            # ai 25/26/27 are half/single/double floats; ai 24 is a simple value.
            if ai != 24:
                raise _malformed(f"floating-point value at offset {start}")
            if arg < 32:
                raise _malformed(f"simple value {arg} in two-byte form at offset {start}")
            return major, ai, arg
        # smallest argument that needs each width: 1 byte >= 24,
        # 2 bytes >= 2^8, 4 bytes >= 2^16, 8 bytes >= 2^32
        minimum = {1: 24, 2: 1 << 8, 4: 1 << 16, 8: 1 << 32}[size]
        if arg < minimum:
            raise _malformed(f"non-shortest encoding of argument {arg} at offset {start}")
        return major, ai, arg

    def item(self, depth=0):
        if depth > MAX_DEPTH:
            raise _malformed("nesting too deep")
        start = self.pos
        major, _ai, arg = self.head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return self._take(arg)
        if major == 3:
            raw = self._take(arg)
            try:
                return raw.decode("utf-8", errors="strict")
            except UnicodeDecodeError:
                raise _malformed(f"invalid UTF-8 in text string at offset {start}") from None
        if major == 4:
            # every item takes at least one byte: cheap guard against huge counts
            if arg > len(self.data) - self.pos:
                raise _malformed(f"truncated array at offset {start}")
            return [self.item(depth + 1) for _ in range(arg)]
        if major == 5:
            if 2 * arg > len(self.data) - self.pos:
                raise _malformed(f"truncated map at offset {start}")
            result = {}
            previous_key_bytes = None
            for _ in range(arg):
                key_start = self.pos
                key = self.item(depth + 1)
                key_bytes = self.data[key_start:self.pos]
                # Every map in the contract has small unsigned integer keys,
                # so any other key type can only be an unknown key.
                if type(key) is not int or key < 0:
                    raise _malformed(f"map key at offset {key_start} is not an unsigned integer")
                if previous_key_bytes is not None:
                    if key_bytes == previous_key_bytes:
                        raise _malformed(f"duplicate map key {key} at offset {key_start}")
                    if key_bytes < previous_key_bytes:
                        raise _malformed(f"map keys not in bytewise order at offset {key_start}")
                previous_key_bytes = key_bytes
                result[key] = self.item(depth + 1)
            return result
        if major == 6:
            raise _malformed(f"tag {arg} at offset {start} (only the outer COSE tag 18 is allowed)")
        # major 7, simple values (floats and break were rejected in head())
        return {20: False, 21: True, 22: None}.get(arg, UNDEFINED if arg == 23 else Simple(arg))


def decode_strict(data, what="input"):
    """Decode exactly one deterministic CBOR item (no tags) filling `data`."""
    dec = _Decoder(data)
    try:
        value = dec.item()
    except Reject as r:
        raise _malformed(f"{what}: {r}") from None
    if dec.pos != len(dec.data):
        raise _malformed(f"{what}: {len(dec.data) - dec.pos} trailing byte(s) after the CBOR item")
    return value


# --------------------------------------------------------------------------
# Contract rules
# --------------------------------------------------------------------------

def _is_uint(v):
    return type(v) is int and 0 <= v <= UINT64_MAX    # bool is not int here


def _require_keys(m, required, optional, what):
    for k in m:
        if k not in required and k not in optional:
            raise _malformed(f"unknown key {k} in {what}")
    for k in required:
        if k not in m:
            raise _malformed(f"missing key {k} in {what}")


def _transfer(t, index):
    what = f"transfer {index}"
    if type(t) is not dict:
        raise _malformed(f"{what} is not a map")
    _require_keys(t, (0, 1), (2, 3, 4), what)
    to, amount = t[0], t[1]
    if type(to) is not bytes or len(to) != 32:
        raise _malformed(f"{what}: 'to' is not a 32-byte byte string")
    if not _is_uint(amount):
        raise _malformed(f"{what}: 'amount' is not an unsigned integer")
    if amount < 1:
        raise _malformed(f"{what}: 'amount' is 0")
    out = {"to": to.hex(), "amount": amount}
    if 2 in t:
        sensor = t[2]
        if type(sensor) is not str:
            raise _malformed(f"{what}: 'sensor' is not a text string")
        # the limit is in bytes, not characters
        if len(sensor.encode("utf-8")) > MAX_SENSOR_BYTES:
            raise _malformed(f"{what}: 'sensor' longer than {MAX_SENSOR_BYTES} bytes")
        out["sensor"] = sensor
    if 3 in t:
        reading = t[3]
        if type(reading) is not int:
            raise _malformed(f"{what}: 'reading' is not an integer")
        if not INT64_MIN <= reading <= INT64_MAX:
            raise _malformed(f"{what}: 'reading' outside the signed 64-bit range")
        out["reading"] = reading
    if 4 in t:
        if not _is_uint(t[4]):
            raise _malformed(f"{what}: 'at' is not an unsigned integer")
        out["at"] = t[4]
    return out


def parse_batch(payload):
    """Validate payload bytes as a version-1 batch; return its JSON shape."""
    if len(payload) > MAX_PAYLOAD:
        raise Reject(TOO_LARGE, f"payload is {len(payload)} bytes, limit {MAX_PAYLOAD}")
    b = decode_strict(payload, "payload")
    if type(b) is not dict:
        raise _malformed("batch is not a map")
    _require_keys(b, (0, 1, 2, 3, 4, 5, 6), (), "batch")
    version, network, seq, prev, created, fee, transfers = (b[k] for k in range(7))
    if not _is_uint(version):
        raise _malformed("'version' is not an unsigned integer")
    if version != 1:
        raise _malformed(f"unsupported version {version}")
    if type(network) is not str:
        raise _malformed("'network' is not a text string")
    if not NETWORK_RE.fullmatch(network):
        raise _malformed("'network' is not 1-32 characters of [a-z0-9-]")
    if not _is_uint(seq):
        raise _malformed("'seq' is not an unsigned integer")
    if seq == 0:
        raise _malformed("'seq' is 0")
    if type(prev) is not bytes or len(prev) != 32:
        raise _malformed("'prev' is not a 32-byte byte string")
    if seq == 1 and prev != bytes(32):
        raise _malformed("'prev' must be 32 zero bytes when seq is 1")
    if not _is_uint(created):
        raise _malformed("'created' is not an unsigned integer")
    if not _is_uint(fee):
        raise _malformed("'fee' is not an unsigned integer")
    if type(transfers) is not list:
        raise _malformed("'transfers' is not an array")
    if len(transfers) == 0:
        raise _malformed("no transfers")
    if len(transfers) > MAX_TRANSFERS:
        raise Reject(TOO_LARGE, f"{len(transfers)} transfers, limit {MAX_TRANSFERS}")
    out_transfers = [_transfer(t, i) for i, t in enumerate(transfers)]
    total = fee + sum(t["amount"] for t in out_transfers)
    if total > UINT64_MAX:
        raise _malformed("sum of amounts plus fee overflows uint64")
    return {"version": version, "network": network, "seq": seq, "prev": prev.hex(),
            "created": created, "fee": fee, "transfers": out_transfers}


def parse_envelope(data):
    """Check the COSE_Sign1_Tagged structure; return (protected, kid, payload, sig)."""
    dec = _Decoder(data)
    major, _ai, tag = dec.head()
    if major != 6:
        raise _malformed("missing COSE_Sign1 tag 18")
    if tag != COSE_SIGN1_TAG:
        raise _malformed(f"tag {tag} instead of COSE_Sign1 tag 18")
    body = dec.item()           # a tag inside the tag is rejected by item()
    if dec.pos != len(dec.data):
        raise _malformed(f"{len(dec.data) - dec.pos} trailing byte(s) after the COSE_Sign1 item")
    if type(body) is not list or len(body) != 4:
        raise _malformed("COSE_Sign1 is not an array of 4 items")
    protected, unprotected, payload, signature = body
    if type(protected) is not bytes:
        raise _malformed("protected header is not a byte string")
    # Decoding strictly and comparing the map is the same as requiring the
    # exact bytes A1 01 27 / A1 01 32, since only one encoding is deterministic.
    if decode_strict(protected, "protected header") not in ({1: ALG_EDDSA}, {1: ALG_ED25519}):
        raise _malformed("protected header is not exactly {1: -8} or {1: -19}")
    if type(unprotected) is not dict or set(unprotected) != {4}:
        raise _malformed("unprotected header is not exactly {4: kid}")
    kid = unprotected[4]
    if type(kid) is not bytes or len(kid) != 32:
        raise _malformed("kid is not a 32-byte byte string")
    if type(payload) is not bytes:
        raise _malformed("payload is not a byte string")
    if type(signature) is not bytes or len(signature) != 64:
        raise _malformed("signature is not a 64-byte byte string")
    return protected, kid, payload, signature


# --------------------------------------------------------------------------
# Signature, with pycose
# --------------------------------------------------------------------------

def register_ed25519_with_pycose():
    """Teach pycose alg -19; idempotent.

    pycose 1.1.0 predates RFC 9864 and refuses alg -19 outright when parsing
    the protected header. Ed25519 (-19) is EdDSA restricted to the Ed25519
    curve, which the OKPKey used for verification pins anyway, so EdDSA's
    sign/verify code is reused unchanged.
    """
    from pycose.algorithms import CoseAlgorithm, EdDSA

    if ALG_ED25519 not in CoseAlgorithm.get_registered_classes():
        @CoseAlgorithm.register_attribute()
        class Ed25519(EdDSA):            # noqa: F841 (registered as a side effect)
            identifier = ALG_ED25519
            fullname = "ED25519"


def _pycose_verify(data, kid):
    # Imported lazily so the strict parser above can be used without pycose.
    from pycose.keys import OKPKey
    from pycose.messages import CoseMessage

    register_ed25519_with_pycose()
    msg = CoseMessage.decode(data)
    # pycose keeps the received protected-header bytes and payload bytes and
    # builds the Sig_structure from them (no re-encoding of what was signed).
    msg.key = OKPKey(crv="Ed25519", x=kid)
    try:
        return msg.verify_signature()
    except Exception:       # e.g. kid not a valid curve point
        return False


def check(data, expect_network=None):
    """Return the result dict for COSE bytes; raise Reject when refused."""
    _protected, kid, payload, _sig = parse_envelope(data)
    batch = parse_batch(payload)
    if not _pycose_verify(data, kid):
        raise Reject(BAD_SIGNATURE, "signature does not verify")
    if expect_network is not None and batch["network"] != expect_network:
        raise Reject(WRONG_NETWORK, f"batch is for network {batch['network']!r}, expected {expect_network!r}")
    return {"valid": True,
            "id": hashlib.blake2b(payload, digest_size=32).hexdigest(),
            "signer": kid.hex(),
            "batch": batch}


def classify(data, expect_network=None):
    """None when valid, otherwise the reason name."""
    try:
        check(data, expect_network)
        return None
    except Reject as r:
        return r.reason


def main(argv):
    args = list(argv[1:])
    network = None
    if "--network" in args:
        i = args.index("--network")
        if i + 1 >= len(args):
            print(__doc__, file=sys.stderr)
            return 2
        network = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import pycose  # noqa: F401 (only checked here: a missing library is not a bad batch)
    except ImportError as e:
        print(f"verify_with_pycose: {e}; run it with .build-venv/bin/python (made by 'make setup') "
              "or 'pip install pycose' first", file=sys.stderr)
        return 2
    with open(args[0], "rb") as f:
        data = f.read()
    try:
        result = check(data, network)
    except Reject as r:
        print(json.dumps({"valid": False, "error": str(r), "reason": r.reason}))
        return 1
    except Exception as e:    # never crash on hostile input: report it instead
        print(json.dumps({"valid": False, "error": f"internal error: {e!r}", "reason": MALFORMED}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
