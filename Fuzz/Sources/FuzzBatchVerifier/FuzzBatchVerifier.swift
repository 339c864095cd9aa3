import CFuzzerDriver
import KognitaCore

/// The executable's entry point (SwiftPM names it `<Target>_main`): runs libFuzzer.
@_cdecl("FuzzBatchVerifier_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return fuzzBatchVerifier(UnsafePointer(bitPattern: 1)!, 0) }
        return fuzzBatchVerifier(data, size)
    }
}

/// libFuzzer entry point: every input goes through each decoder that faces the
/// outside world. Besides "never crash", it checks the determinism invariant:
/// whatever a decoder accepts re-encodes to exactly the bytes it was given (so
/// no two encodings of one value are both accepted).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBatchVerifier(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    if let signed = try? SignedBatch.verify(bytes) {
        precondition(signed.id == BatchID(payload: signed.payload), "id is not BLAKE2b-256 of the payload")
        precondition((try? signed.batch.encoded()) == signed.payload, "accepted payload is not canonical")
    }
    if let batch = try? Batch(decoding: bytes) {
        precondition((try? batch.encoded()) == bytes, "accepted batch does not re-encode to its input")
    }
    if let value = try? CBORValue(decoding: bytes) {
        precondition((try? value.encoded()) == bytes, "accepted CBOR does not re-encode to its input")
    }
    if let ack = try? Ack(decoding: bytes) {
        // Unknown keys are skipped, so the re-encoding may be shorter; it must
        // decode to the same ack, and equal the input when nothing was skipped.
        let reencoded = try? ack.encoded()
        if let reencoded {
            precondition((try? Ack(decoding: reencoded)) == ack, "ack does not survive encode and decode")
            if reencoded.count == bytes.count { precondition(reencoded == bytes, "accepted ack is not canonical") }
        }
    }
    return 0
}
