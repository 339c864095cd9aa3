import KognitaCore
import KognitaSystem

/// Renders a verified batch (or why it is not one) for people and for tools.
enum BatchReport {
    static func text(_ signed: SignedBatch) -> String {
        let batch = signed.batch
        let total = (try? Amount.sum(batch.transfers.map(\.amount)))?.description ?? "overflow"
        var lines = [
            "valid batch (signature verified)",
            "id         \(signed.id.hex)",
            "signer     \(signed.signer.hex)",
            "algorithm  \(signed.algorithm)",
            "network    \(batch.network)",
            "seq        \(batch.seq)",
            "prev       \(batch.prev.hex)",
            "created    \(batch.created) (\(formatTimestamp(batch.created)))",
            "fee        \(batch.fee)",
            "size       \(signed.envelope.count) bytes (payload \(signed.payload.count))",
            "transfers  \(batch.transfers.count), total \(total)",
        ]
        for (index, transfer) in batch.transfers.enumerated() {
            var line = "  [\(index)] to \(transfer.to.hex) amount \(transfer.amount)"
            if let sensor = transfer.sensor { line += " sensor \(quoted(sensor))" }
            if let reading = transfer.reading { line += " reading \(formatMilliUnits(reading))" }
            if let at = transfer.at { line += " at \(at) (\(formatTimestamp(at)))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ signed: SignedBatch) -> String {
        let batch = signed.batch
        let transfers = batch.transfers.map { transfer in
            var fields = [("to", JSON.string(transfer.to.hex)), ("amount", JSON.number(transfer.amount.baseUnits))]
            if let sensor = transfer.sensor { fields.append(("sensor", JSON.string(sensor))) }
            if let reading = transfer.reading { fields.append(("reading", JSON.number(reading))) }
            if let at = transfer.at { fields.append(("at", JSON.number(at))) }
            return JSON.object(fields)
        }
        return JSON.object([
            ("valid", "true"),
            ("id", JSON.string(signed.id.hex)),
            ("signer", JSON.string(signed.signer.hex)),
            ("algorithm", JSON.number(signed.algorithm.rawValue)),
            ("size", JSON.number(signed.envelope.count)),
            ("batch", JSON.object([
                ("version", JSON.number(Batch.version)),
                ("network", JSON.string(batch.network.rawValue)),
                ("seq", JSON.number(batch.seq)),
                ("prev", JSON.string(batch.prev.hex)),
                ("created", JSON.number(batch.created)),
                ("fee", JSON.number(batch.fee.baseUnits)),
                ("transfers", "[" + transfers.joined(separator: ",") + "]"),
            ])),
        ])
    }

    static func json(failure: ProtocolError) -> String {
        var fields = [("valid", "false"), ("reason", JSON.string(failure.reason.name)), ("code", JSON.number(failure.reason.rawValue))]
        if let field = failure.field { fields.append(("field", JSON.string(field))) }
        fields.append(("error", JSON.string(failure.description)))
        return JSON.object(fields)
    }

    /// A reading in milli-units as a decimal: 21500 -> "21.5", -5 -> "-0.005".
    static func formatMilliUnits(_ value: Int64) -> String {
        let magnitude = value.magnitude
        var text = "\(value < 0 ? "-" : "")\(magnitude / 1000)"
        let fraction = magnitude % 1000
        if fraction != 0 {
            var digits = String(fraction)
            digits = String(repeating: "0", count: 3 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text
    }

    /// Milliseconds since the Unix epoch as ISO 8601 UTC, without Foundation.
    static func formatTimestamp(_ milliseconds: UInt64) -> String {
        let seconds = milliseconds / 1000
        let days = Int64(seconds / 86_400)
        let secondOfDay = seconds % 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ n: some BinaryInteger, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(milliseconds % 1000, 3))Z"
    }

    private static func quoted(_ text: String) -> String { JSON.string(text) }
}

/// JSON output for `--json`: the shared escaper, plus numbers.
enum JSON {
    static func object(_ fields: [(String, String)]) -> String { JSONText.object(fields) }
    static func number(_ value: some BinaryInteger) -> String { String(value) }
    static func string(_ text: String) -> String { JSONText.string(text) }
}
