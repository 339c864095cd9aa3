import Testing
import Foundation
import KognitaAgent
import KognitaTesting

@Suite("Sensors")
struct SensorTests {
    @Test("a file sensor reads sysfs-style numbers with a scale, into milli-units",
          arguments: [("42500\n", 0.001, Int64(42_500)), ("  -12.5 ", 1.0, -12_500), ("7", 2.5, 17_500), ("0.001", 1.0, 1)])
    func fileSensor(text: String, scale: Double, expected: Int64) async throws {
        try await TemporaryDirectory.with { dir in
            try text.write(toFile: "\(dir)/in_temp_input")
            let sensor = FileSensor(id: "temp", path: "\(dir)/in_temp_input", scale: scale)
            #expect(try sensor.read(now: 5) == Reading(milliUnits: expected, at: 5))
        }
    }

    @Test("a file sensor refuses what is not a plain number, and a missing file, with a message naming it",
          arguments: ["", "abc", "1e5", "nan", "inf", "1.2.3", "--1", "12 13"])
    func fileSensorRefuses(text: String) async throws {
        try await TemporaryDirectory.with { dir in
            try text.write(toFile: "\(dir)/value")
            let error = #expect(throws: SensorError.self) { try FileSensor(id: "s", path: "\(dir)/value").read(now: 1) }
            #expect(error?.description.contains("sensor s") == true)
            #expect(throws: SensorError.self) { try FileSensor(id: "s", path: "\(dir)/missing").read(now: 1) }
        }
    }

    @Test("a simulated sensor is a deterministic function of time")
    func simulated() throws {
        let sensor = SimulatedSensor(id: "sim", milliUnitsPerSecond: 1_500, startedAt: 1_000)
        #expect(try sensor.read(now: 1_000).milliUnits == 0)
        #expect(try sensor.read(now: 3_000).milliUnits == 3_000)
        #expect(try sensor.read(now: 3_000) == sensor.read(now: 3_000))
    }
}
