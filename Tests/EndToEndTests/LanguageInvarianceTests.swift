import Foundation
import TestSupport
import Testing

/// Only text for people follows the language: on the same data, what programs read — the settle summary, result,
/// archive and quarantine files, the metrics, the report's JSON and CSV, the statement's CSV, `runs --json`,
/// exit codes — is byte for byte the same under a Japanese and an English locale and with `--lang ja|en`.
@Suite struct LanguageInvarianceTests {
    /// The ways of asking for a language: the locale, and `--lang` over a locale that says otherwise.
    static let languages: [(name: String, environment: [String: String], arguments: [String])] = [
        ("LANG=ja_JP.UTF-8", ["LANG": "ja_JP.UTF-8"], []),
        ("LANG=C.UTF-8", ["LANG": "C.UTF-8"], []),
        ("--lang ja", ["LANG": "C.UTF-8"], ["--lang", "ja"]),
        ("--lang en", ["LANG": "ja_JP.UTF-8"], ["--lang", "en"]),
    ]

    /// What settle leaves for programs, one deployment per language, all generated from the same seed.
    struct Settled {
        var name: String
        var status: Int32
        var summary: String
        var metrics: String
        var files: [String: Data]
    }

    @Test func settleWritesTheSameBytesInEveryLanguage() throws {
        var settled: [Settled] = []
        for language in Self.languages {
            let deployment = try Deployment(generated: 1500, faults: true)
            let summary = deployment.workspace.root + "/summary.json"
            let metrics = deployment.workspace.root + "/mynapoint.prom"
            let run = try deployment.settle(
                language.arguments + ["--summary-json", summary, "--metrics-file", metrics],
                environment: language.environment)
            var files: [String: Data] = [:]
            for folder in [deployment.workspace.outbox, deployment.workspace.archive, deployment.workspace.quarantine] {
                for (path, data) in try Self.files(under: folder) {
                    files[String(path.dropFirst(deployment.workspace.root.count))] = data
                }
            }
            settled.append(
                Settled(
                    name: language.name, status: run.status,
                    summary: try Self.withoutTiming(json: Data(contentsOf: URL(fileURLWithPath: summary))),
                    metrics: try Self.withoutTiming(String(contentsOfFile: metrics, encoding: .utf8)), files: files))
        }
        let english = try #require(settled.first { $0.name == "LANG=C.UTF-8" })
        #expect(english.status == 3)
        #expect(english.files.keys.contains { $0.hasSuffix(".result.csv.zst") })
        #expect(english.files.keys.contains { $0.contains("/quarantine/") })
        for other in settled where other.name != english.name {
            #expect(other.status == english.status, "\(other.name)")
            #expect(other.summary == english.summary, "\(other.name)")
            #expect(other.metrics == english.metrics, "\(other.name)")
            #expect(other.files.keys.sorted() == english.files.keys.sorted(), "\(other.name)")
            for (path, data) in english.files { #expect(other.files[path] == data, "\(other.name): \(path)") }
        }
    }

    @Test func reportsRunsAndVerifyForProgramsAreTheSameInEveryLanguage() throws {
        let deployment = try Deployment(generated: 1500, faults: true)
        #expect(try deployment.settle().status == 3)
        let commands: [[String]] = [
            ["report", "--format", "json"],
            ["report", "--format", "csv"],
            ["report", "--format", "json", "--from", "2000-01-01", "--to", "2099-12-31"],
            ["report", "statement"],
            ["report", "statement", "--format", "json"],
            ["report", "statement", "--header", "machine"],
            ["runs", "list", "--json"],
            ["runs", "show", "1", "--json"],
            ["verify", "--outbox", deployment.workspace.outbox],
        ]
        for command in commands {
            var outputs: [(String, Binary.Outcome)] = []
            for language in Self.languages {
                let outcome = try Binary.run(
                    command + language.arguments, database: deployment.database, environment: language.environment)
                outputs.append((language.name, outcome))
            }
            let (_, first) = outputs[0]
            // The report's CSV says when it was made, to the second; that time alone is set aside.
            let normalized = command == ["report", "--format", "csv"] ? Self.withoutGeneratedTime : { $0 }
            #expect(first.status == 0, "\(command): \(first.stderr)")
            for (name, outcome) in outputs.dropFirst() {
                #expect(outcome.status == first.status, "\(command) \(name)")
                // verify's one line is for people; everything else is for programs and must not move a byte.
                if command[0] != "verify" {
                    #expect(
                        Data(normalized(outcome.stdout).utf8) == Data(normalized(first.stdout).utf8),
                        "\(command) \(name)")
                }
            }
        }
        // The report's JSON has no time in it: made twice, it is the same, so the comparison above is sound.
        let once = try Binary.run(["report", "--format", "json"], database: deployment.database)
        let twice = try Binary.run(["report", "--format", "json"], database: deployment.database)
        #expect(once.stdout == twice.stdout)
    }

    @Test func peopleDoGetJapanese() throws {
        let deployment = try Deployment(generated: 1000, faults: true)
        #expect(try deployment.settle().status == 3)
        let japanese = ["LANG": "ja_JP.UTF-8"]
        let page = try Binary.run(["report", "--format", "html"], database: deployment.database, environment: japanese)
        #expect(page.stdout.contains("<html lang=\"ja\">"))
        #expect(page.stdout.contains("ポイント<"))
        let english = try Binary.run(
            ["report", "--format", "html", "--lang", "en"], database: deployment.database, environment: japanese)
        #expect(english.stdout.contains("<html lang=\"en\">"))
        let text = try Binary.run(["report", "--format", "text", "--lang", "ja"], database: deployment.database)
        #expect(text.stdout.hasPrefix("マイナポイント精算"))
        let runs = try Binary.run(["runs", "list"], database: deployment.database, environment: japanese)
        #expect(runs.stdout.hasPrefix("実行"))
        let verify = try Binary.run(["verify"], database: deployment.database, environment: japanese)
        #expect(verify.status == 0)
        #expect(verify.stdout.contains("差異はありません"))
        let statement = try Binary.run(
            ["report", "statement", "--header", "ja"], database: deployment.database, environment: japanese)
        #expect(statement.stdout.hasPrefix("月,事業者ID,"))
        let machine = try Binary.run(["report", "statement"], database: deployment.database, environment: japanese)
        #expect(machine.stdout.hasPrefix("month,provider_id,"))
    }

    /// The text with the report CSV's `generated_at` (a JST time to the second, which moves between two runs of
    /// the same command) replaced by a fixed mark.
    static func withoutGeneratedTime(_ text: String) -> String {
        text.replacing(#/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00/#, with: "GENERATED_AT")
    }

    /// Every regular file under `folder`, by path.
    static func files(under folder: String) throws -> [(String, Data)] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var found: [(String, Data)] = []
        while let relative = walker.nextObject() as? String {
            let path = folder + "/" + relative
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                found.append((path, try Data(contentsOf: URL(fileURLWithPath: path))))
            }
        }
        return found
    }

    /// The summary without the fields that say when or how long (`…_at`, `…seconds`, at any depth), keys sorted.
    static func withoutTiming(json: Data) throws -> String {
        func strip(_ value: Any) -> Any {
            if let object = value as? [String: Any] {
                return object.filter { !$0.key.hasSuffix("_at") && !$0.key.contains("seconds") }.mapValues(strip)
            }
            if let array = value as? [Any] { return array.map(strip) }
            return value
        }
        let stripped = strip(try JSONSerialization.jsonObject(with: json))
        let data = try JSONSerialization.data(withJSONObject: stripped, options: [.sortedKeys, .prettyPrinted])
        return String(decoding: data, as: UTF8.self)
    }

    /// The text without the lines that say when or how long: times differ from run to run whatever the language.
    static func withoutTiming(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).filter {
            !$0.contains("seconds") && !$0.contains("_at\"") && !$0.contains("timestamp")
        }.joined(separator: "\n")
    }
}
