#!/usr/bin/env python3
"""Generate the Kognita version-2 batch test vectors (operations: bond, unbond, register).

Usage:
    generate_batch_vectors_v2.py [OUT]   (default: Tests/Vectors/batch-vectors-v2.json)

Written from docs/PROTOCOL.md, section "Version 2: operations (bond, unbond,
register)", in Python (pynacl + cbor2), independently of the Swift code, so
the two can be checked against each other. The version-1 vectors
(batch-vectors.json, generate_batch_vectors.py) are not touched; this script
only borrows that generator's byte-level CBOR helpers and envelope builders.

Deterministic: fixed seeds (SHA-256("kognita-test-vectors/" + label), and the
RFC 8032 seeds for the two worked examples of docs/PROTOCOL.md), fixed
timestamps, deterministic Ed25519, fixed JSON key order.

Self-checks (the script raises instead of writing a bad file):
  * every vector is classified by the strict reference checker
    (Tests/Interop/verify_with_pycose.py) exactly as it says, and valid ones
    decode to the same batch and verify with pycose;
  * every vector whose defect is not the COSE signature carries a COSE
    signature that verifies, and every vector whose defect is not a node
    signature carries node signatures that verify (so the intended defect is
    the only reason to refuse it);
  * the two worked examples chain from docs/PROTOCOL.md's example 2.
"""

import hashlib
import json
import os
import sys

import cbor2
import nacl.signing
from nacl.exceptions import BadSignatureError

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True          # keep the source tree clean
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "Tests", "Interop"))
import generate_batch_vectors as v1    # noqa: E402  (CBOR helpers, envelopes, keys)
import verify_with_pycose as ref       # noqa: E402  (strict reference checker)
from generate_batch_vectors import (    # noqa: E402
    NET, T0, ZERO32, UINT64_MAX, PROTECTED_EDDSA, PROTECTED_ED25519,
    Raw, Map, enc, head, head_wide, sign, envelope, signing_key, public, sig_structure,
    DEVICE, OTHER, ALICE, BOB, GRID,
)

DEFAULT_OUT = os.path.join(REPO, "Tests", "Vectors", "batch-vectors-v2.json")

NODE = signing_key("node-1")
NODE2 = signing_key("node-2")
REGISTER_CONTEXT = "kognita-register-v1"
BOND, UNBOND, REGISTER = 1, 2, 3

# The worked examples of docs/PROTOCOL.md (version 2): the device is RFC 8032's
# test 1 key, as in the version-1 examples; the node is RFC 8032's TEST 1024 key.
EXAMPLE_DEVICE = nacl.signing.SigningKey(bytes.fromhex(
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
EXAMPLE_NODE = nacl.signing.SigningKey(bytes.fromhex(
    "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5"))
EXAMPLE_BOB = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
EXAMPLE_2_ID = bytes.fromhex("e4ab55818073732440cd2b89f6cd10c6150fd741eb1e62f592d856709a65be75")
assert public(EXAMPLE_DEVICE).hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
assert public(EXAMPLE_NODE).hex() == "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e"


# --------------------------------------------------------------------------
# Operations and version-2 batches
# --------------------------------------------------------------------------

def bond(amount):
    return {0: BOND, 1: amount}


def unbond(amount):
    return {0: UNBOND, 1: amount}


def register_signing_bytes(network, account, node, addresses):
    """["kognita-register-v1", network, account, node, [addresses]] as CBOR."""
    return enc([REGISTER_CONTEXT, network, account, node, list(addresses)])


def register(addresses, node_key=NODE, account=None, network=NET, signer=None, signed_addresses=None,
             message=None):
    """{0: 3, 2: node, 3: [addresses], 4: node signature}.

    By default the node key signs for the device-a account on `network` over
    exactly `addresses`; the other arguments make deliberately wrong ones.
    """
    node = public(node_key)
    account = public(DEVICE) if account is None else account
    if message is None:
        message = register_signing_bytes(network, account, node,
                                         addresses if signed_addresses is None else signed_addresses)
    return {0: REGISTER, 2: node, 3: list(addresses), 4: sign(signer or node_key, message)}


def batch2(transfers, operations, seq=1, prev=ZERO32, created=T0, fee=0, network=NET, version=2):
    return {0: version, 1: network, 2: seq, 3: prev, 4: created, 5: fee, 6: transfers, 7: operations}


def operation_json(op):
    kind = op[0]
    if kind in (BOND, UNBOND):
        return {"type": "bond" if kind == BOND else "unbond", "amount": op[1]}
    return {"type": "register", "node": op[2].hex(), "addresses": op[3], "signature": op[4].hex()}


def batch_json(b):
    out = v1.batch_json(b)
    if b[0] == 2 or (b[0] == 3 and 7 in b):
        out["operations"] = [operation_json(op) for op in b[7]]
    if b[0] == 3:
        out["via"] = b[8].hex()
    return out


def batch3(transfers, via, operations=None, seq=1, prev=ZERO32, created=T0, fee=0, network=NET):
    b = {0: 3, 1: network, 2: seq, 3: prev, 4: created, 5: fee, 6: transfers}
    if operations is not None:
        b[7] = operations
    b[8] = via
    return b


def debit(b):
    """What the batch takes from the balance: amounts, bonds and the fee (not unbonds)."""
    return b[5] + sum(t[1] for t in b[6]) + sum(op[1] for op in b.get(7, []) if op[0] == BOND)


# --------------------------------------------------------------------------
# Vector collection
# --------------------------------------------------------------------------

VECTORS = []
_COSE_SIGNED_OK = {}     # name -> the COSE signature verifies over what was received
PAYLOADS = {}            # name -> payload bytes (valid vectors)


def add_valid(name, description, b, sk=DEVICE, protected=PROTECTED_EDDSA, expect=NET):
    payload = v1.encode_payload(b)
    cose = v1.signed(payload, sk, protected)
    VECTORS.append({
        "name": name,
        "description": description,
        "cose": cose.hex(),
        "expect_network": expect,
        "valid": True,
        "id": hashlib.blake2b(payload, digest_size=32).hexdigest(),
        "signer": public(sk).hex(),
        "payload": payload.hex(),
        "batch": batch_json(b),
        "debit": debit(b),
    })
    _COSE_SIGNED_OK[name] = True
    PAYLOADS[name] = payload
    return payload


def add_invalid(name, description, cose, reason, field, expect=NET, cose_signed_ok=True):
    VECTORS.append({
        "name": name,
        "description": description,
        "cose": cose.hex(),
        "expect_network": expect,
        "valid": False,
        "reason": reason,
        "field": field,
    })
    _COSE_SIGNED_OK[name] = cose_signed_ok


def add_bad(name, description, b, field, reason="malformed", sk=DEVICE, expect=NET):
    """Invalid batch content under a correct COSE signature."""
    add_invalid(name, description, v1.signed(v1.encode_payload(b), sk), reason, field, expect=expect)


def build():
    op0 = "batch.operations[0]"
    addr = ["203.0.113.7:7400"]

    # ------------------------------------------------------------ the worked examples of docs/PROTOCOL.md
    example_a = batch2([], [bond(50), register(addr, node_key=EXAMPLE_NODE, account=public(EXAMPLE_DEVICE))],
                       seq=3, prev=EXAMPLE_2_ID, created=T0 + 120000, fee=1)
    payload_a = add_valid("valid-v2-protocol-example-a",
                          "docs/PROTOCOL.md version-2 example (a): seq 3 after example 2, no transfers, "
                          "bond 50 and register the RFC 8032 TEST 1024 key with one address, fee 1.",
                          example_a, sk=EXAMPLE_DEVICE)
    example_b = batch2([v1.transfer(EXAMPLE_BOB, 100)], [unbond(20)],
                       seq=4, prev=hashlib.blake2b(payload_a, digest_size=32).digest(), created=T0 + 180000)
    add_valid("valid-v2-protocol-example-b",
              "docs/PROTOCOL.md version-2 example (b): seq 4 after example (a), one transfer of 100 and "
              "unbond 20 (the debit is 100: an unbond takes nothing from the balance).",
              example_b, sk=EXAMPLE_DEVICE)

    # ------------------------------------------------------------ valid
    add_valid("valid-v2-bond-only", "A version-2 batch with no transfers and one bond of 500, fee 1.",
              batch2([], [bond(500)], fee=1))
    add_valid("valid-v2-unbond-only", "A version-2 batch with no transfers and one unbond of 200 (seq 2).",
              batch2([], [unbond(200)], seq=2, prev=hashlib.blake2b(b"device-a batch 1", digest_size=32).digest(),
                     created=T0 + 60000))
    add_valid("valid-v2-register-only", "A version-2 batch with no transfers and one registration (one address).",
              batch2([], [register(addr)]))
    add_valid("valid-v2-register-four-addresses",
              "A registration with the most addresses (4): IPv4, bracketed IPv6, a host name with port 65535, "
              "and an address of exactly 64 bytes with port 1.",
              batch2([], [register(["10.0.0.1:7400", "[2001:db8::1]:7400", "node-1.kognita.example:65535",
                                    "n" * 62 + ":1"])]))
    add_valid("valid-v2-bond-and-register", "Bond 50, then register (the bond counts for the registration).",
              batch2([], [bond(50), register(addr)], fee=2))
    add_valid("valid-v2-transfers-and-every-operation",
              "Two transfers with bond 1000, a registration and unbond 10, fee 3: the debit is the amounts, "
              "the bond and the fee.",
              batch2([v1.transfer(ALICE, 250, "meter-1", 21500, T0 - 1000), v1.transfer(BOB, 40)],
                     [bond(1000), register(["10.0.0.2:7400", "[::1]:7401"]), unbond(10)], fee=3,
                     seq=7, prev=hashlib.blake2b(b"device-a batch 6", digest_size=32).digest()))
    add_valid("valid-v2-transfer-and-bond", "One transfer of 1000 and a bond of 1 (the smallest amount).",
              batch2([v1.transfer(ALICE, 1000)], [bond(1)]))
    add_valid("valid-v2-16-operations", "Exactly the maximum of 16 operations (8 bonds, 8 unbonds, alternating).",
              batch2([], [bond(i + 1) if i % 2 == 0 else unbond(i) for i in range(16)]))
    add_valid("valid-v2-debit-uint64-max",
              "A transfer of 2^63, a bond of 2^63-1001 and fee 1000 make a debit of exactly 2^64-1; "
              "an unbond of 2^64-1 is not part of the debit.",
              batch2([v1.transfer(ALICE, 2**63)], [bond(2**63 - 1001), unbond(UINT64_MAX)], fee=1000))
    add_valid("valid-v2-two-registrations",
              "Two registrations in one batch (node-1, then node-2): each is checked, applied in order.",
              batch2([], [register(addr), register(["10.0.0.9:7400"], node_key=NODE2)]))
    add_valid("valid-v2-alg-ed25519", "A registration under protected header {1: -19}.",
              batch2([], [bond(5), register(addr)]), protected=PROTECTED_ED25519)
    add_valid("valid-v1-shape-still-accepted",
              "A version-1 batch (7 keys, no key 7) is still accepted by a version-2 receiver.",
              v1.minimal_batch())

    # ------------------------------------------------------------ malformed: batch level
    b1 = v1.minimal_batch()
    add_bad("malformed-v1-with-operations", "A version-1 batch carrying key 7 with a valid bond.",
            {**b1, 7: [bond(50)]}, "batch")
    add_bad("malformed-v2-without-operations", "Version 2 with transfers but no key 7.",
            {**b1, 0: 2}, "batch.operations")
    add_bad("malformed-v2-empty-operations", "Version 2 with key 7 an empty array.",
            batch2([v1.transfer(ALICE, 1000)], []), "batch.operations")
    add_bad("malformed-v2-operations-not-array", "Key 7 is a map, not an array.",
            batch2([v1.transfer(ALICE, 1000)], {0: bond(5)}), "batch.operations")
    add_bad("malformed-v2-operations-indefinite-array", "Key 7 as an indefinite-length array.",
            batch2([], Raw(b"\x9f" + enc(bond(5)) + b"\xff")), "batch.operations")
    add_bad("malformed-v2-missing-transfers-key", "Version 2 with operations but no key 6 (it is required, "
            "even when empty).", {k: v for k, v in batch2([], [bond(5)]).items() if k != 6}, "batch.transfers")
    add_bad("malformed-version-4", "version 4 with otherwise valid operations.",
            batch2([], [bond(5)], version=4), "batch.version")
    # Version 3: a device names the bridge it submits through (key 8).
    bridge = hashlib.sha256(b"kognita-test-vectors/bridge-1").digest()
    add_valid("valid-v3-via", "Version 3: one transfer with a fee, through a named bridge.",
              batch3([v1.transfer(ALICE, 1000)], bridge, fee=10))
    add_valid("valid-v3-via-operations", "Version 3 with a bond as well (key 7 is optional in version 3).",
              batch3([v1.transfer(ALICE, 1000)], bridge, operations=[bond(50)], fee=10))
    add_bad("malformed-v3-without-via", "Version 3 without key 8.",
            {k: v for k, v in batch3([v1.transfer(ALICE, 1000)], bridge).items() if k != 8}, "batch.via")
    add_bad("malformed-v3-via-short", "Version 3 whose key 8 is 31 bytes.",
            batch3([v1.transfer(ALICE, 1000)], bridge[:31]), "batch.via")
    add_bad("malformed-v2-with-via", "Version 2 with key 8 (only version 3 has it).",
            {**batch2([v1.transfer(ALICE, 1000)], [bond(5)]), 8: bridge}, "batch")
    add_bad("malformed-v3-keys-out-of-order", "Version 3 with key 8 encoded before key 7.",
            {**{k: v for k, v in batch3([v1.transfer(ALICE, 1000)], bridge).items()}, 7: [bond(5)]}, "batch")
    add_bad("malformed-v2-debit-overflow", "A transfer of 2^63 and a bond of 2^63: the debit overflows uint64.",
            batch2([v1.transfer(ALICE, 2**63)], [bond(2**63)]), "batch.transfers")
    add_bad("malformed-v2-bonds-overflow", "Two bonds of 2^63 and no transfers: the debit overflows uint64.",
            batch2([], [bond(2**63), bond(2**63)]), "batch.transfers")
    add_bad("malformed-v2-nothing-to-do", "Version 2 with no transfers and key 7 empty.",
            batch2([], []), "batch.operations")

    # ------------------------------------------------------------ malformed: operation maps
    add_bad("malformed-v2-operation-not-map", "An operation that is the integer 1, not a map.",
            batch2([], [1]), op0)
    add_bad("malformed-v2-unknown-op-type-4", "An operation of type 4 {0: 4, 1: 5}.",
            batch2([], [{0: 4, 1: 5}]), op0 + ".type")
    add_bad("malformed-v2-op-type-0", "An operation of type 0 {0: 0, 1: 5}.",
            batch2([], [{0: 0, 1: 5}]), op0 + ".type")
    add_bad("malformed-v2-op-type-negative", "An operation type -1 (a negative integer).",
            batch2([], [{0: -1, 1: 5}]), op0 + ".type")
    add_bad("malformed-v2-op-missing-type", "An operation {1: 5} without key 0.",
            batch2([], [{1: 5}]), op0 + ".type")
    add_bad("malformed-v2-op-unknown-key", "A bond with an extra key 5.",
            batch2([], [{0: 1, 1: 5, 5: 0}]), op0)
    add_bad("malformed-v2-op-keys-unsorted", "A bond written {1: 5, 0: 1} (keys not ascending).",
            batch2([], [Map([(1, 5), (0, 1)])]), op0)
    add_bad("malformed-v2-op-duplicate-key", "A bond with key 1 twice.",
            batch2([], [Map([(0, 1), (1, 5), (1, 5)])]), op0)
    add_bad("malformed-v2-bond-amount-0", "bond 0.", batch2([v1.transfer(ALICE, 1)], [bond(0)]), op0 + ".amount")
    add_bad("malformed-v2-unbond-amount-0", "unbond 0 (second operation).",
            batch2([], [bond(5), unbond(0)]), "batch.operations[1].amount")
    add_bad("malformed-v2-bond-missing-amount", "A bond {0: 1} without an amount.",
            batch2([], [{0: 1}]), op0 + ".amount")
    add_bad("malformed-v2-bond-amount-negative", "A bond of -5 (a negative integer).",
            batch2([], [{0: 1, 1: -5}]), op0 + ".amount")
    add_bad("malformed-v2-bond-non-shortest-amount", "A bond of 5 written 18 05.",
            batch2([], [{0: 1, 1: Raw(b"\x18\x05")}]), op0 + ".amount")
    add_bad("malformed-v2-bond-with-node", "A bond that also carries key 2 (a node).",
            batch2([], [{0: 1, 1: 5, 2: public(NODE)}]), op0)
    reg = register(addr)
    add_bad("malformed-v2-register-with-amount", "A registration that also carries key 1 (an amount).",
            batch2([], [{0: 3, 1: 5, 2: reg[2], 3: reg[3], 4: reg[4]}]), op0)
    add_bad("malformed-v2-register-missing-signature", "A registration without key 4.",
            batch2([], [{0: 3, 2: reg[2], 3: reg[3]}]), op0 + ".signature")
    add_bad("malformed-v2-register-missing-node", "A registration without key 2.",
            batch2([], [{0: 3, 3: reg[3], 4: reg[4]}]), op0 + ".node")
    add_bad("malformed-v2-register-missing-addresses", "A registration without key 3.",
            batch2([], [{0: 3, 2: reg[2], 4: reg[4]}]), op0 + ".addresses")
    add_bad("malformed-v2-register-node-31-bytes", "A registration whose node is 31 bytes.",
            batch2([], [{**reg, 2: reg[2][:31]}]), op0 + ".node")
    add_bad("malformed-v2-register-signature-63-bytes", "A registration whose node signature is 63 bytes.",
            batch2([], [{**reg, 4: reg[4][:63]}]), op0 + ".signature")
    add_bad("malformed-v2-register-addresses-not-array", "Addresses as one text string, not an array.",
            batch2([], [{**reg, 3: addr[0]}]), op0 + ".addresses")
    add_bad("malformed-v2-register-no-addresses", "A registration with an empty address list "
            "(signed by the node over that empty list).", batch2([], [register([])]), op0 + ".addresses")

    def bad_address(name, description, address, position=0, field=None):
        addresses = ["10.0.0.1:7400"] * position + [address]
        add_bad(name, description, batch2([], [register(addresses)]),
                field or f"{op0}.addresses[{position}]")

    bad_address("malformed-v2-address-without-port", "The address 203.0.113.7 (no port).", "203.0.113.7")
    bad_address("malformed-v2-address-empty-port", "The address host: (empty port).", "node.example:")
    bad_address("malformed-v2-address-empty-host", "The address :7400 (empty host).", ":7400")
    bad_address("malformed-v2-address-port-0", "Port 0.", "node.example:0")
    bad_address("malformed-v2-address-port-65536", "Port 65536.", "node.example:65536")
    bad_address("malformed-v2-address-port-6-digits", "A port of 6 digits (000080).", "node.example:000080")
    bad_address("malformed-v2-address-port-not-digits", "The port 74a0.", "node.example:74a0")
    bad_address("malformed-v2-address-port-signed", "The port +7400.", "node.example:+7400")
    bad_address("malformed-v2-address-ipv6-unbracketed-no-port", "The address [::1] with no port.", "[::1]")
    bad_address("malformed-v2-address-empty", "An empty address (second in the list).", "", position=1)
    bad_address("malformed-v2-address-65-bytes", "An address of 65 bytes.", "n" * 63 + ":1")
    add_bad("malformed-v2-address-not-text", "An address as a byte string.",
            batch2([], [{**reg, 3: [addr[0].encode()]}]), op0 + ".addresses[0]")
    add_bad("malformed-v2-address-invalid-utf8", "An address with the bytes c3 28 (invalid UTF-8).",
            batch2([], [{**reg, 3: [Raw(b"\x6an\xc3\x28de:7400")]}]), op0 + ".addresses[0]")

    # ------------------------------------------------------------ too large
    add_bad("too-large-v2-17-operations", "17 operations, one over the limit of 16.",
            batch2([], [bond(i + 1) for i in range(17)]), "batch.operations", reason="too-large")
    add_bad("too-large-v2-register-5-addresses", "A registration listing 5 addresses, one over the limit of 4 "
            "(signed by the node over all 5).",
            batch2([], [register(["10.0.0.%d:7400" % i for i in range(1, 6)])]),
            op0 + ".addresses", reason="too-large")

    # ------------------------------------------------------------ bad signature: the node's
    sig_field = op0 + ".signature"
    add_bad("bad-signature-v2-node-signed-other-account",
            "The node signed its registration for device-b's account; the batch is signed by device-a.",
            batch2([], [register(addr, account=public(OTHER))]), sig_field, reason="bad-signature")
    add_bad("bad-signature-v2-node-signed-other-network",
            "The node signed for kognita-testnet; the batch is for kognita-devnet.",
            batch2([], [register(addr, network="kognita-testnet")]), sig_field, reason="bad-signature")
    add_bad("bad-signature-v2-node-signed-other-addresses",
            "The node signed the address 203.0.113.8:7400; the registration lists 203.0.113.7:7400.",
            batch2([], [register(addr, signed_addresses=["203.0.113.8:7400"])]), sig_field, reason="bad-signature")
    add_bad("bad-signature-v2-node-signature-by-other-key",
            "The registration names node-1 but node-2's key signed it.",
            batch2([], [register(addr, signer=NODE2)]), sig_field, reason="bad-signature")
    add_bad("bad-signature-v2-node-signature-by-account-key",
            "The account key (device-a) signed the registration instead of the node key.",
            batch2([], [register(addr, signer=DEVICE)]), sig_field, reason="bad-signature")
    add_bad("bad-signature-v2-node-signature-without-context",
            "The node signed [network, account, node, [addresses]] without the context string.",
            batch2([], [register(addr, message=enc([NET, public(DEVICE), public(NODE), addr]))]),
            sig_field, reason="bad-signature")
    add_bad("bad-signature-v2-node-signature-other-context",
            "The node signed with the context kognita-register-v2.",
            batch2([], [register(addr, message=enc(["kognita-register-v2", NET, public(DEVICE), public(NODE),
                                                    addr]))]), sig_field, reason="bad-signature")
    add_bad("bad-signature-v2-node-signature-address-not-in-array",
            "The node signed the address as a bare text string instead of an array of one.",
            batch2([], [register(addr, message=enc([REGISTER_CONTEXT, NET, public(DEVICE), public(NODE),
                                                    addr[0]]))]), sig_field, reason="bad-signature")
    flipped = register(addr)
    flipped[4] = flipped[4][:-1] + bytes([flipped[4][-1] ^ 1])
    add_bad("bad-signature-v2-node-signature-bit-flipped",
            "A registration whose node signature has its lowest bit flipped.",
            batch2([], [flipped]), sig_field, reason="bad-signature")
    add_bad("bad-signature-v2-second-registration",
            "The first registration is right, the second one's node signature is for another account.",
            batch2([], [bond(5), register(addr), register(["10.0.0.9:7400"], node_key=NODE2, account=public(OTHER))]),
            "batch.operations[2].signature", reason="bad-signature")
    add_bad("bad-signature-v2-node-signature-before-network",
            "A batch for kognita-testnet whose node signature is for kognita-devnet (the receiver's): the "
            "node signature is checked over the batch's own network, before the network.",
            batch2([], [register(addr, network=NET)], network="kognita-testnet"), sig_field, reason="bad-signature")

    # ------------------------------------------------------------ bad signature: the batch's (COSE)
    payload = v1.encode_payload(batch2([], [bond(50), register(addr)]))
    good = v1.signed(payload)
    cose_flipped = bytearray(good)
    cose_flipped[-1] ^= 0x01
    add_invalid("bad-signature-v2-cose-bit-flipped",
                "bond 50 and a registration, with the lowest bit of the COSE signature flipped.",
                bytes(cose_flipped), "bad-signature", "envelope.signature", cose_signed_ok=False)
    altered = v1.encode_payload(batch2([], [bond(51), register(addr)]))
    assert len(altered) == len(payload)
    add_invalid("bad-signature-v2-bond-altered", "The bond changed from 50 to 51 after signing.",
                envelope(PROTECTED_EDDSA, {4: public(DEVICE)}, altered, bytes(good[-64:])),
                "bad-signature", "envelope.signature", cose_signed_ok=False)

    # ------------------------------------------------------------ wrong network
    add_bad("wrong-network-v2-register",
            "A well-formed registration for kognita-testnet (node signature over kognita-testnet) "
            "sent to kognita-devnet.",
            batch2([], [bond(5), register(addr, network="kognita-testnet")], network="kognita-testnet"),
            "batch.network", reason="wrong-network")
    add_bad("wrong-network-v2-bond", "A well-formed bond for kognita-testnet sent to kognita-devnet.",
            batch2([], [bond(5)], network="kognita-testnet"), "batch.network", reason="wrong-network")


# --------------------------------------------------------------------------
# Self-checks
# --------------------------------------------------------------------------

def _lenient_batch(cose):
    obj = cbor2.loads(cose)
    while isinstance(obj, cbor2.CBORTag):
        obj = obj.value
    return obj


def _cose_signature_verifies(cose):
    try:
        protected, unprotected, payload, sig = _lenient_batch(cose)
        nacl.signing.VerifyKey(unprotected[4]).verify(sig_structure(protected, payload), sig)
        return True
    except BadSignatureError:
        return False


def _node_signatures(cose):
    """For each well-shaped registration: does its node signature verify?"""
    _p, unprotected, payload, _s = _lenient_batch(cose)
    try:
        b = cbor2.loads(payload)
    except Exception:
        return []
    ops = b.get(7) if isinstance(b, dict) else None
    results = []
    for op in ops if isinstance(ops, list) else []:
        if not (isinstance(op, dict) and op.get(0) == REGISTER and isinstance(op.get(2), bytes)
                and len(op[2]) == 32 and isinstance(op.get(3), list) and isinstance(op.get(4), bytes)
                and len(op[4]) == 64 and all(isinstance(a, str) for a in op[3])):
            continue
        message = register_signing_bytes(b.get(1), unprotected[4], op[2], op[3])
        try:
            nacl.signing.VerifyKey(op[2]).verify(message, op[4])
            results.append(True)
        except BadSignatureError:
            results.append(False)
    return results


def self_check():
    names = set()
    for v in VECTORS:
        name = v["name"]
        if name in names:
            raise AssertionError(f"duplicate vector name {name}")
        names.add(name)
        cose = bytes.fromhex(v["cose"])
        expected = None if v["valid"] else v["reason"]
        try:
            result = ref.check(cose, v["expect_network"])
            got = None
        except ref.Reject as r:
            result, got = None, r.reason
        if got != expected:
            raise AssertionError(f"{name}: reference checker says {got}, vector says {expected}")
        if v["valid"]:
            if result["batch"] != v["batch"] or result["id"] != v["id"] or result["signer"] != v["signer"]:
                raise AssertionError(f"{name}: reference checker decodes a different batch")
            if v["signer"] == public(EXAMPLE_DEVICE).hex():
                _pycose_only(v)
            else:               # also: pycose encodes the same message to the same bytes
                v1._pycose_verify_valid(v)
        if _cose_signature_verifies(cose) != _COSE_SIGNED_OK[name]:
            raise AssertionError(f"{name}: COSE signature verifies = {not _COSE_SIGNED_OK[name]}")
        node_bad = v.get("reason") == "bad-signature" and v["field"].startswith("batch.operations")
        signatures = _node_signatures(cose)
        if node_bad != (False in signatures):
            raise AssertionError(f"{name}: node signatures {signatures}, expected a bad one = {node_bad}")
        if node_bad and signatures.count(False) != 1:
            raise AssertionError(f"{name}: more than one bad node signature")
    # The examples chain from PROTOCOL.md's example 2, and (b) from (a).
    a, b = PAYLOADS["valid-v2-protocol-example-a"], PAYLOADS["valid-v2-protocol-example-b"]
    if cbor2.loads(a)[3] != EXAMPLE_2_ID or cbor2.loads(b)[3] != hashlib.blake2b(a, digest_size=32).digest():
        raise AssertionError("the worked examples do not chain")


def _pycose_only(v):
    """pycose verifies a worked example (its key is not one of the v1 generator's)."""
    from pycose.keys import OKPKey
    from pycose.messages import CoseMessage
    ref.register_ed25519_with_pycose()
    msg = CoseMessage.decode(bytes.fromhex(v["cose"]))
    msg.key = OKPKey(crv="Ed25519", x=bytes.fromhex(v["signer"]))
    if not msg.verify_signature():
        raise AssertionError(f"{v['name']}: pycose does not verify the signature")


def main(argv):
    out = argv[1] if len(argv) > 1 else DEFAULT_OUT
    build()
    self_check()
    doc = {
        "contract": "Kognita device protocol, versions 2 (operations: bond, unbond, register) and 3 (a named bridge)",
        "generator": "Tests/Vectors/generate_batch_vectors_v2.py (pynacl + cbor2)",
        "vectors": VECTORS,
    }
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
