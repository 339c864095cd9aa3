#!/usr/bin/env python3
"""Independent recomputation of Kognita's ratings and validator rewards
(docs/ECONOMICS.md) from a node's stored data.

Reads the node's SQLite database (read-only) and the genesis file, and for
every checkpoint whose seal reports the node kept (a validator keeps them
for the checkpoints it built or checked):

1. verifies every sampled vote in the seal reports (body 5): the Merkle
   inclusion path from the batch to the vote's root (RFC 9162 with
   BLAKE2b-256) and the validator's Ed25519 signature over
   ["kognita-vote-v1", network, epoch, root, count];
2. computes each committee member's measure: per reporter (never judging
   itself) the share of its samples holding the member's valid vote, the
   lower median of those shares over the reporters, weighed 9 to 1 with the
   member's own seal report being there;
3. advances the rating book from the previous checkpoint's (body 7) by the
   rules, and compares measures, windows, ratings and slashed flags with
   the checkpoint's body 7;
4. recomputes the payouts (body 8): the pool before them (body 4's pool
   plus the payouts) shared by weight x measure, each to the account that
   registered the node (body 3), rounded down.

Written from the documents, not from the Swift code. Exit 0 when every
checkpoint matches, 1 on the first difference, 2 when the database holds no
checkpoint it can recompute. --tamper invalidates the
first member's vote signatures before recomputing, which must make a
difference (the check would otherwise prove nothing).

usage: recompute_ratings.py --db ledger.sqlite --genesis genesis.toml [--tamper]
"""

import argparse
import os
import sqlite3
import sys
import tomllib

import cbor2
import nacl.exceptions
import nacl.signing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify_checkpoint_chain import (  # noqa: E402  (the header chain's own independent helpers)
    VOTE_TAG, blake2b256, cbor, load_genesis, merkle_root_from_path)

FULL = 1000
WINDOW = 10
PENALTY = 4
PROBATION = 750
SAMPLE_VOTE_TENTHS = 9

BODY_STAKES, BODY_FEES, BODY_REPORTS, BODY_RATINGS, BODY_REWARDS, BODY_SLASHES = 3, 4, 5, 7, 8, 9
EQUIVOCATION_TAG = "kognita-equivocation-v1"


class Mismatch(Exception):
    pass


class NothingToCheck(Exception):
    pass


def rating_of(measures, slashed):
    """Forgive the worst measure in the window; each permille of the rest's
    mean miss costs PENALTY permille; no record is probation."""
    if slashed:
        return 0
    if not measures:
        return PROBATION
    misses = sorted(FULL - min(m, FULL) for m in measures)[:-1]
    if not misses:
        return FULL
    penalty = PENALTY * sum(misses) // len(misses)
    return 0 if penalty >= FULL else FULL - penalty


def valid_vote(network, epoch, account, batch_id, signer, cache):
    vid, count, index, path, sig = signer
    if not (1 <= count <= 1024 and index < count):
        return False
    try:
        root = merkle_root_from_path(blake2b256(b"\x00" + account + batch_id), index, count, path, "sampled vote")
    except Exception:
        return False
    key = (vid, root, count, sig)
    if key not in cache:
        try:
            nacl.signing.VerifyKey(vid).verify(cbor([VOTE_TAG, network, epoch, root, count]), sig)
            cache[key] = True
        except (nacl.exceptions.BadSignatureError, ValueError):
            cache[key] = False
    return cache[key]


def measures_of(reports, committee, network, epoch, tamper):
    """Member -> measure, or None when the network failed: no report holds a
    sample, or most reporters needed repeated view changes (round >= 2) to
    enter the epoch (the lower median of their previous rounds)."""
    rounds = sorted(raw[0][9] for raw in reports if raw[0][3] in committee)
    if rounds and rounds[(len(rounds) - 1) // 2] >= 2:
        return None
    shares = {v: [] for v in committee}
    reporters = set()
    cache = {}
    any_sample = False
    first = sorted(committee)[0]
    for raw in reports:
        body, _signature = raw
        _ctx, _net, _epoch, reporter, _heads, _locks, _attested, samples, _evidence, _previous_round = body
        reporters.add(reporter)
        if not samples or reporter not in committee:
            continue
        any_sample = True
        found = {v: 0 for v in committee}
        for account, batch_id, signers in samples:
            for signer in signers:
                vid = signer[0]
                if vid == reporter or vid not in committee:
                    continue
                if tamper and vid == first:
                    signer = [vid, signer[1], signer[2], signer[3], bytes(64)]
                if valid_vote(network, epoch, account, batch_id, signer, cache):
                    found[vid] += 1
        for v in committee:
            if v != reporter:
                shares[v].append(found[v] * FULL // len(samples))
    if not any_sample:
        return None
    result = {}
    for v in committee:
        votes = FULL
        if shares[v]:
            ordered = sorted(shares[v])
            votes = min(ordered[(len(ordered) - 1) // 2], FULL)
        reported = FULL if v in reporters else 0
        result[v] = (SAMPLE_VOTE_TENTHS * votes + (10 - SAMPLE_VOTE_TENTHS) * reported) // 10
    return result


def open_batch(envelope):
    """A COSE_Sign1 batch: (account, seq, id) once the device's Ed25519 signature holds, else None."""
    try:
        item = cbor2.loads(envelope)
        protected, unprotected, payload, signature = item.value
        account = bytes(unprotected[4])
        nacl.signing.VerifyKey(account).verify(cbor(["Signature1", protected, b"", payload]), signature)
        return account, cbor2.loads(payload)[2], blake2b256(payload)
    except Exception:
        return None


def proven_offender(raw, committees, network):
    """The validator an equivocation proof convicts (docs/ECONOMICS.md), or None."""
    try:
        tag, proof_network, first, second = cbor2.loads(raw)
    except Exception:
        return None
    if tag != EQUIVOCATION_TAG or proof_network != network:
        return None
    seen = []
    for epoch, envelope, vote in (first, second):
        batch = open_batch(bytes(envelope))
        if batch is None or epoch not in committees or bytes(vote[0]) not in committees[epoch]:
            return None
        account, seq, batch_id = batch
        if not valid_vote(network, epoch, account, batch_id, [bytes(vote[0]), vote[1], vote[2], [bytes(h) for h in vote[3]], bytes(vote[4])], {}):
            return None
        seen.append((account, seq, batch_id, bytes(vote[0]), epoch))
    (a1, s1, i1, v1, e1), (a2, s2, i2, v2, e2) = seen
    if a1 != a2 or s1 != s2 or i1 == i2 or v1 != v2:
        return None
    return v1, max(e1, e2)


def advance(book, committee, epoch, measures):
    """book: node -> {"window": [(epoch, measure)], "slashed": bool}."""
    book = {n: {"window": list(r["window"]), "slashed": r["slashed"]} for n, r in book.items()}
    if measures is not None:
        for v in committee:
            book.setdefault(v, {"window": [], "slashed": False})["window"].append((epoch, measures.get(v, FULL)))
    for n in list(book):
        r = book[n]
        if n in committee:
            r["window"] = [e for e in r["window"] if e[0] + WINDOW > epoch]
            if not r["window"] and not r["slashed"]:
                del book[n]
        elif r["window"] and r["window"][-1][0] + WINDOW <= epoch and not r["slashed"]:
            del book[n]
    return book


def parse_ratings(raw):
    epoch, measures, records = cbor2.loads(raw)
    return epoch, {bytes(n): m for n, m in measures}, {
        bytes(n): {"rating": rating, "slashed": slashed == 1, "window": [tuple(e) for e in window]}
        for n, rating, slashed, window in records}


def registered_accounts(raw):
    owners = {}
    for account, _bonded, _unbonding, _unbonded_in, _seated, registration in cbor2.loads(raw):
        if registration:
            owners.setdefault(bytes(registration[0]), []).append(bytes(account))
    return {node: accounts[0] for node, accounts in owners.items() if len(accounts) == 1}


def check(db_path, genesis_path, tamper):
    genesis = load_genesis(genesis_path)
    network = genesis["network"]
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows = db.execute("SELECT epoch, signed FROM checkpoint ORDER BY epoch").fetchall()
    bodies = {}
    for epoch, kind, data in db.execute("SELECT epoch, kind, bytes FROM checkpoint_body"):
        bodies[(epoch, kind)] = bytes(data)
    committee = dict(genesis["committee"])
    committees = {0: committee}
    with open(genesis_path, "rb") as f:
        evidence_epochs = tomllib.load(f).get("epochs", {}).get("evidence_epochs", 2)
    book = {}
    checked = 0
    for epoch, signed in rows:
        header = cbor2.loads(bytes(signed))[0]
        next_committee = {bytes(v): w for v, w in header[7]}
        committees[epoch + 1] = next_committee
        ratings_raw = bodies.get((epoch, BODY_RATINGS))
        reports_raw = bodies.get((epoch, BODY_REPORTS))
        if ratings_raw is None:
            committee = next_committee
            continue
        claimed_epoch, claimed_measures, claimed = parse_ratings(ratings_raw)
        if reports_raw is None:
            # A checkpoint this node adopted without building it: take its book and go on.
            book = {n: {"window": r["window"], "slashed": r["slashed"]} for n, r in claimed.items()}
            committee = next_committee
            continue
        if claimed_epoch != epoch:
            raise Mismatch(f"checkpoint {epoch}: its ratings body says epoch {claimed_epoch}")
        reports = cbor2.loads(reports_raw)
        measures = measures_of(reports, committee, network, epoch, tamper)
        if (measures or {}) != claimed_measures:
            raise Mismatch(f"checkpoint {epoch}: measures {fmt(measures or {})} recomputed, {fmt(claimed_measures)} in body 7")
        # Equivocation: every offender the reports prove, in the evidence window, not slashed before.
        slashed = set()
        for raw in reports:
            for proof in raw[0][8]:
                convicted = proven_offender(bytes(proof), committees, network)
                if convicted and convicted[1] + evidence_epochs >= epoch and not book.get(convicted[0], {}).get("slashed"):
                    slashed.add(convicted[0])
        slashes_raw = bodies.get((epoch, BODY_SLASHES))
        claimed_slashed = {bytes(n) for n, _a, _amount in cbor2.loads(slashes_raw)[1]} if slashes_raw else set()
        if not claimed_slashed <= slashed:
            raise Mismatch(f"checkpoint {epoch}: slashes {sorted(x.hex()[:8] for x in claimed_slashed)} in body 9, "
                           f"but the reports prove {sorted(x.hex()[:8] for x in slashed)}")
        book = advance(book, committee, epoch, measures)
        for n in slashed:
            book.setdefault(n, {"window": [], "slashed": False})["slashed"] = True
        if set(book) != set(claimed):
            raise Mismatch(f"checkpoint {epoch}: records for {sorted(x.hex()[:8] for x in book)} recomputed, "
                           f"{sorted(x.hex()[:8] for x in claimed)} in body 7")
        for n, r in book.items():
            want = claimed[n]
            got_rating = rating_of([m for _, m in r["window"]], r["slashed"])
            if r["window"] != want["window"] or r["slashed"] != want["slashed"] or got_rating != want["rating"]:
                raise Mismatch(f"checkpoint {epoch}: node {n.hex()[:16]} recomputed {r['window']} rating {got_rating}, "
                               f"body 7 says {want['window']} rating {want['rating']}")
        # The payouts.
        rewards_raw = bodies.get((epoch, BODY_REWARDS))
        fees_raw = bodies.get((epoch, BODY_FEES))
        stakes_raw = bodies.get((epoch, BODY_STAKES))
        if rewards_raw is not None and fees_raw is not None and stakes_raw is not None:
            r_epoch, payouts = cbor2.loads(rewards_raw)
            paid = {bytes(n): (bytes(a), amount) for n, a, amount in payouts}
            pool_after = cbor2.loads(fees_raw)[0]
            pool = pool_after + sum(amount for _, amount in paid.values())
            accounts = {n: a for n, a in registered_accounts(stakes_raw).items() if n not in slashed}
            parts = {v: w * (measures.get(v, FULL) if measures is not None else FULL) for v, w in committee.items()}
            whole = sum(parts.values())
            expected = {}
            for v, part in parts.items():
                amount = pool * part // whole if whole else 0
                if amount > 0 and v in accounts:
                    expected[v] = (accounts[v], amount)
            if r_epoch != epoch or expected != paid:
                raise Mismatch(f"checkpoint {epoch}: payouts {fmt2(expected)} recomputed, {fmt2(paid)} in body 8")
        print(f"checkpoint {epoch}: {len(reports)} seal reports, measures {fmt(measures or {})}, "
              f"ratings {fmt({n: rating_of([m for _, m in r['window']], r['slashed']) for n, r in book.items()})}: match")
        checked += 1
        committee = next_committee
    if checked == 0:
        raise NothingToCheck("no checkpoint with seal reports and ratings in this database (a node keeps the reports of the checkpoints it built or checked)")
    print(f"ratings ok: {checked} checkpoints recomputed independently")


def fmt(d):
    return "{" + ", ".join(f"{k.hex()[:8]}: {v}" for k, v in sorted(d.items())) + "}"


def fmt2(d):
    return "{" + ", ".join(f"{k.hex()[:8]}: {v[1]}" for k, v in sorted(d.items())) + "}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--genesis", required=True)
    parser.add_argument("--tamper", action="store_true")
    args = parser.parse_args()
    try:
        check(args.db, args.genesis, args.tamper)
    except Mismatch as error:
        print(f"MISMATCH: {error}")
        return 1
    except NothingToCheck as error:
        print(f"NOTHING TO RECOMPUTE: {error}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
