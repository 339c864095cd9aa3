import CFuzzerDriver
import KognitaNode

/// The executable's entry point: runs libFuzzer.
@_cdecl("FuzzPeerMessages_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return fuzzPeerMessages(UnsafePointer(bitPattern: 1)!, 0) }
        return fuzzPeerMessages(data, size)
    }
}

/// libFuzzer entry point: every decrypted frame a node reads goes through
/// `PeerMessage(decoding:)` (the epoch messages included). It must never
/// crash, and what it accepts must survive encode and decode unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPeerMessages(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let message = try? PeerMessage(decoding: bytes) {
        let again = try? PeerMessage(decoding: message.encoded())
        precondition(again == message, "a peer message does not survive encode and decode")
    }
    return 0
}
