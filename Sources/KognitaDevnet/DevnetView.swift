import Foundation

/// The live view: one frame a second, at most 80 columns. On a terminal it
/// is redrawn in place; otherwise each second is one plain log line.
struct DevnetFrame: Sendable {
    struct Row: Sendable {
        var name: String
        var state: String
        var cpuPercent: Double
        var residentBytes: Int
        var detail: String
    }

    var phase: String
    var elapsed: Double
    var duration: Int
    var validators: Int
    var bridges: Int
    var devices: Int
    var producedPerSecond: Double
    var finalPerSecond: Double
    var totalFinal: Int
    var latency: LatencySummary
    var pendingTransfers: Int
    var pendingBatches: Int
    var connectedDevices: Int
    var rejections: [String: Int]
    var rows: [Row]
    /// The epoch, its committee's size and the seconds to its end (validator-1's view).
    var epoch: (number: UInt64, committee: Int, endsIn: Double, checkpoints: Int)?

    /// The frame for a terminal, each line at most 80 columns.
    var lines: [String] {
        let rule = String(repeating: "-", count: 78)
        var lines = [
            fit("Kognita devnet  \(validators) validators, \(bridges) bridge\(bridges == 1 ? "" : "s"), \(devices) devices"
                + "   \(phase) \(Int(elapsed))/\(duration) s"),
            rule,
            fit("transfers/s  produced \(grouped(producedPerSecond))   final \(grouped(finalPerSecond))   total final \(grouped(totalFinal))"),
            fit("submit to final (this second)  p50 \(milliseconds(latency.p50))   p99 \(milliseconds(latency.p99))   batches \(latency.count)"),
            fit("pending      \(grouped(pendingTransfers)) transfers in \(grouped(pendingBatches)) batches   devices online \(connectedDevices)/\(devices)"),
            fit("rejected     \(rejectionText)"),
            fit("epoch        " + (epoch.map { "\($0.number)   committee \($0.committee)   next checkpoint in \(String(format: "%.0f", $0.endsIn)) s   checkpoints \($0.checkpoints)" } ?? "-")),
            rule,
            "\(pad("component", 13))\(pad("state", 12))\(padLeft("cpu %", 6))\(padLeft("rss MiB", 9))  detail",
        ]
        for row in rows {
            lines.append(fit("\(pad(row.name, 13))\(pad(row.state, 12))\(padLeft(String(format: "%.0f", row.cpuPercent), 6))"
                             + "\(padLeft(String(format: "%.0f", Double(row.residentBytes) / 1_048_576), 9))  \(row.detail)"))
        }
        return lines
    }

    /// The frame as one log line (when standard output is not a terminal).
    var logLine: String {
        let down = rows.filter { !["ready", "up", "running"].contains($0.state) }.map { "\($0.name) \($0.state)" }
        return "devnet \(phase) t=\(Int(elapsed))s produced/s=\(Int(producedPerSecond)) final/s=\(Int(finalPerSecond)) "
            + "p50=\(milliseconds(latency.p50)) p99=\(milliseconds(latency.p99)) pending=\(pendingTransfers) "
            + "online=\(connectedDevices)/\(devices) " + (epoch.map { "epoch=\($0.number) committee=\($0.committee) " } ?? "") + "rejected=\(rejections.isEmpty ? "none" : rejections.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","))"
            + (down.isEmpty ? "" : " down=\(down.joined(separator: ","))")
    }

    private var rejectionText: String {
        rejections.isEmpty ? "none" : rejections.sorted { $0.value > $1.value }.map { "\($0.key) \(grouped($0.value))" }.joined(separator: ", ")
    }

    private func fit(_ line: String) -> String { line.count <= 80 ? line : String(line.prefix(79)) + "~" }
    private func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
    private func padLeft(_ text: String, _ width: Int) -> String { text.count >= width ? text : String(repeating: " ", count: width - text.count) + text }
    private func milliseconds(_ value: Double) -> String { latency.count == 0 ? "-" : String(format: "%.0f ms", value) }
}

/// 1234567 as "1,234,567".
func grouped(_ value: Double) -> String { grouped(Int(value.rounded())) }

func grouped(_ value: Int) -> String {
    let digits = String(abs(value))
    var out = ""
    for (offset, character) in digits.enumerated() {
        if offset > 0 && (digits.count - offset) % 3 == 0 { out.append(",") }
        out.append(character)
    }
    return value < 0 ? "-" + out : out
}

/// Draws frames: in place on a terminal, as log lines otherwise.
struct FramePrinter {
    let isTerminal = isatty(STDOUT_FILENO) == 1
    private var drawn = 0

    mutating func show(_ frame: DevnetFrame) {
        if isTerminal {
            // Home, then clear to the end: the frame is redrawn where it was.
            var text = drawn > 0 ? "\u{1B}[\(drawn)A\r\u{1B}[J" : ""
            let lines = frame.lines
            text += lines.joined(separator: "\n") + "\n"
            drawn = lines.count
            FileHandle.standardOutput.write(text.data(using: .utf8)!)
        } else {
            print(frame.logLine)
            fflush(nil)
        }
    }

    /// Later output starts below the last frame.
    mutating func release() { drawn = 0 }

    /// A message between frames (plain, never overwritten).
    mutating func note(_ message: String) {
        if isTerminal && drawn > 0 {
            FileHandle.standardOutput.write("\u{1B}[\(drawn)A\r\u{1B}[J".data(using: .utf8)!)
            drawn = 0
        }
        print(message)
        fflush(nil)
    }
}
