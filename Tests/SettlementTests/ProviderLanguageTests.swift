import Foundation
import Localization
import Logging
import Postgres
import Synchronization
import TestSupport
import Testing

@testable import Ledger
@testable import Settlement

/// The provider's language decides the sentence stored and written for a quarantined file; the operator's log
/// stays English, because operators' logs are parsed.
@Suite struct ProviderLanguageTests {
    /// What was logged: each message with its metadata.
    final class Log: Sendable {
        let entries = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
        var logger: Logger { Logger(label: "test") { _ in Recorder(log: self) } }
    }

    /// A log handler that keeps every message's metadata in a `Log`.
    struct Recorder: LogHandler {
        let log: Log
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.entries.withLock { $0.append((event.message.description, event.metadata ?? [:])) }
        }
    }

    @Test(arguments: Language.allCases) func theStoredSentenceIsInTheProvidersLanguage(language: Language) throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        fixture.providerLanguage = language
        try fixture.workspace.drop(
            "P9999_20201001_0001.csv.zst", csv: records("Q1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"))
        let log = Log()
        let summary = try fixture.settle(logger: log.logger)
        let expected = ProviderMessage.unknownProvider(provider: "P9999")
        #expect(summary.files.map(\.message) == [expected.text(language)])
        let stored = try fixture.ledger.connection.query("SELECT quarantine_message FROM files")[0, 0].string()
        #expect(stored == expected.text(language))
        let data = try #require(
            FileManager.default.contents(atPath: fixture.workspace.quarantine + "/P9999_20201001_0001.error.json"))
        let reason = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(reason["message"] as? String == expected.text(language))
        #expect(reason["code"] as? String == "UNKNOWN_PROVIDER")
        let logged = log.entries.withLock { $0 }.filter { $0.message == "file quarantined" }
        #expect(logged.map { $0.metadata["reason"]?.description } == [expected.english])
    }
}
