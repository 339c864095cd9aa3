import Foundation

/// Waits for the first element of `stream` that satisfies `match`, failing after `seconds`.
public func first<S: AsyncSequence & Sendable>(_ stream: S, within seconds: Double = 10, where match: @escaping @Sendable (S.Element) -> Bool) async throws -> S.Element
where S.Element: Sendable {
    try await withThrowingTaskGroup(of: S.Element?.self) { group in
        group.addTask {
            for try await element in stream where match(element) { return element }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let result = try await group.next(), let element = result else {
            throw TestSupportError("nothing matching arrived within \(seconds) s")
        }
        return element
    }
}

