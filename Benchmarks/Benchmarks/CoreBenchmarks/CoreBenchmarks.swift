import Benchmark
import CSodiumBaseline
import KognitaCore

/// A realistic meter batch: 64 transfers, each with sensor, reading and time.
private func meterBatch() -> Batch {
    let recipients = (0..<8).map { i in try! AccountID(bytes: [UInt8](repeating: UInt8(0x10 + i), count: 32)) }
    let transfers = (0..<64).map { i in
        Transfer(to: recipients[i % 8], amount: Amount(UInt64(100 + i)), sensor: "meter-\(i % 4)",
                 reading: 1_234_000 + Int64(i) * 750, at: 1_767_225_600_000 + UInt64(i) * 1000)
    }
    return Batch(network: try! NetworkID("kognita-devnet"), seq: 42, prev: BatchID(BLAKE2b256.hash([1])),
                 created: 1_767_225_664_000, fee: 10, transfers: transfers)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal],
        warmupIterations: 100,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000)

    let key = try! SigningKey(seed: [UInt8](repeating: 7, count: 32))
    let batch = meterBatch()
    let signed = try! SignedBatch.sign(batch, with: key)
    let envelope = signed.envelope
    let payload = signed.payload
    let toBeSigned = COSESign1.toBeSigned(protected: COSEAlgorithm.edDSA.protectedHeader, payload: payload)
    let publicKey = key.publicKey.rawValue.bytes
    let signature = signed.signature.bytes

    Benchmark("Batch: build and sign (64 transfers)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! SignedBatch.sign(meterBatch(), with: key))
        }
    }

    Benchmark("Batch: decode and verify (64 transfers)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! SignedBatch.verify(envelope))
        }
    }

    // The baseline for the one above: a single libsodium call over the exact
    // bytes that are signed (the Sig_structure around the same payload).
    Benchmark("Baseline: bare libsodium Ed25519 verify (same message)") { benchmark in
        for _ in benchmark.scaledIterations {
            let result = crypto_sign_verify_detached(signature, toBeSigned, UInt64(toBeSigned.count), publicKey)
            precondition(result == 0)
            blackHole(result)
        }
    }

    Benchmark("CBOR: batch round trip (decode + encode, 64 transfers)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! Batch(decoding: payload).encoded())
        }
    }

    Benchmark("Batch id: BLAKE2b-256 of the payload") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(BatchID(payload: payload))
        }
    }

    Benchmark("CBOR: generic decode of the envelope") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! CBORValue(decoding: envelope))
        }
    }
}
