/// Reads the fields of a contract map and turns any CBOR failure into a
/// ``ProtocolError`` that names the field. Field paths are built only when
/// something fails (they are autoclosures), so the happy path costs nothing.
struct FieldReader {
    var cbor: CBORReader

    init(_ bytes: [UInt8], maxInputSize: Int, field: String) throws(ProtocolError) {
        do throws(CBORError) {
            // Contract maps nest at most three deep (batch > transfers > transfer).
            cbor = try CBORReader(bytes, limits: CBORLimits(maxInputSize: maxInputSize, maxDepth: 4))
        } catch {
            throw ProtocolError(.tooLarge, field, error.description)
        }
    }

    mutating func mapHeader(_ field: @autoclosure () -> String) throws(ProtocolError) -> Int {
        do throws(CBORError) { return try cbor.readMapHeader(maxCount: 24) } catch { throw .malformed(field(), error) }
    }

    mutating func arrayHeader(_ field: @autoclosure () -> String) throws(ProtocolError) -> Int {
        do throws(CBORError) { return try cbor.readArrayHeader() } catch { throw .malformed(field(), error) }
    }

    mutating func key(after previous: inout UInt64?, _ field: @autoclosure () -> String) throws(ProtocolError) -> UInt64 {
        do throws(CBORError) { return try cbor.readMapKey(after: &previous) } catch { throw .malformed(field(), error) }
    }

    mutating func unsigned(_ field: @autoclosure () -> String) throws(ProtocolError) -> UInt64 {
        do throws(CBORError) { return try cbor.readUnsigned() } catch { throw .malformed(field(), error) }
    }

    mutating func int64(_ field: @autoclosure () -> String) throws(ProtocolError) -> Int64 {
        do throws(CBORError) { return try cbor.readInt64() } catch { throw .malformed(field(), error) }
    }

    mutating func bytes32(_ field: @autoclosure () -> String) throws(ProtocolError) -> Bytes32 {
        do throws(CBORError) { return try cbor.readBytes32() } catch { throw .malformed(field(), error) }
    }

    mutating func byteStringRange(_ field: @autoclosure () -> String) throws(ProtocolError) -> Range<Int> {
        do throws(CBORError) { return try cbor.readByteStringRange() } catch { throw .malformed(field(), error) }
    }

    mutating func text(maxBytes: Int, _ field: @autoclosure () -> String) throws(ProtocolError) -> String {
        do throws(CBORError) { return try cbor.readText(maxBytes: maxBytes) } catch { throw .malformed(field(), error) }
    }

    mutating func tag(_ field: @autoclosure () -> String) throws(ProtocolError) -> UInt64 {
        do throws(CBORError) { return try cbor.readTag() } catch { throw .malformed(field(), error) }
    }

    mutating func skip(_ field: @autoclosure () -> String) throws(ProtocolError) {
        do throws(CBORError) { try cbor.skipContractItem(depth: 1) } catch { throw .malformed(field(), error) }
    }

    func expectEnd(_ field: @autoclosure () -> String) throws(ProtocolError) {
        do throws(CBORError) { try cbor.expectEnd() } catch { throw .malformed(field(), error) }
    }
}

/// Throws "missing field" unless `value` is present.
@inline(__always)
func require<T>(_ value: T?, _ field: @autoclosure () -> String, key: UInt64) throws(ProtocolError) -> T {
    guard let value else { throw .malformed(field(), "required field is missing (key \(key))") }
    return value
}
