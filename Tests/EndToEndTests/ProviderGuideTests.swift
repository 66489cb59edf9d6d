import Foundation
import TestSupport
import Testing
import Zstd

/// `docs/providers.md` says what the program does with the files in `docs/examples/`: every command shown there is
/// run, and every file shown is compared with what `settle` writes.
@Suite(.serialized) struct ProviderGuideTests {
    static var repository: String { (DropWorkspace.fixtures() as NSString).deletingLastPathComponent + "/.." }
    static var guide: String { repository + "/docs/providers.md" }
    static var japaneseGuide: String { repository + "/docs/providers.ja.md" }

    /// One command of a console block, with the output shown under it and, after `$ echo $?`, its exit code.
    struct Step {
        var arguments: [String]
        var output = ""
        var exitCode: Int32?
    }

    /// The `mynapoint` commands of the guide's console blocks, in order.
    static func steps(_ markdown: String) throws -> [Step] {
        var steps: [Step] = []
        var inConsole = false
        var expectExit = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inConsole = !inConsole && line == "```console"
                continue
            }
            guard inConsole else { continue }
            if line == "$ echo $?" {
                expectExit = true
            } else if line.hasPrefix("$ ") {
                let words = line.dropFirst(2).split(separator: " ").map(String.init)
                try #require(words.first == "mynapoint", "only mynapoint commands can be checked: \(line)")
                steps.append(Step(arguments: Array(words.dropFirst())))
            } else if expectExit {
                let code: Int32? = Int32(String(line))
                try #require(code != nil, "an exit code after echo $?")
                steps[steps.count - 1].exitCode = code
                expectExit = false
            } else {
                try #require(!steps.isEmpty, "output before any command")
                steps[steps.count - 1].output += line + "\n"
            }
        }
        return steps
    }

    /// The fenced blocks that follow `<!-- checked: PATH -->`, by path.
    static func checkedFiles(_ markdown: String) -> [String: String] {
        var files: [String: String] = [:]
        var path: String?
        var body: String?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("<!-- checked: "), line.hasSuffix(" -->") {
                path = String(line.dropFirst("<!-- checked: ".count).dropLast(" -->".count))
            } else if line.hasPrefix("```"), let current = path {
                if let text = body {
                    files[current] = text
                    path = nil
                    body = nil
                } else {
                    body = ""
                }
            } else if body != nil {
                body! += line + "\n"
            }
        }
        return files
    }

    /// A copy of `docs/examples` to run the guide's commands in.
    static func examples() throws -> String {
        let copy = FileManager.default.temporaryDirectory.path + "/guide-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.copyItem(atPath: repository + "/docs/examples", toPath: copy)
        return copy
    }

    /// A guide and the `provider_language` its outputs are in.
    static let guides = [(guide, "en"), (japaneseGuide, "ja")]

    @Test(arguments: guides) func everyCommandInTheGuidePrintsWhatTheGuideShows(guide: String, language: String) throws
    {
        let steps = try Self.steps(try String(contentsOfFile: guide, encoding: .utf8))
        #expect(steps.count >= 5 && steps.contains { $0.arguments.first == "pack" })
        let folder = try Self.examples()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let environment = try Binary.providerLanguage(language)
        for step in steps {
            let outcome = try Binary.run(step.arguments, database: nil, environment: environment, cwd: folder)
            #expect(
                outcome.stdout + outcome.stderr == step.output, "mynapoint \(step.arguments.joined(separator: " "))")
            if let code = step.exitCode { #expect(outcome.status == code, "\(step.arguments)") }
        }
    }

    @Test(arguments: guides) func theFilesInTheGuideAreWhatSettleWrites(guide: String, language: String) throws {
        let shown = Self.checkedFiles(try String(contentsOfFile: guide, encoding: .utf8))
        #expect(shown.count == 4)
        let database = try TemporaryDatabase.create(prefix: "guide")
        defer { database.drop() }
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        try workspace.copyIntoInbox(from: Self.repository + "/docs/examples/accepted")
        try workspace.copyIntoInbox(from: Self.repository + "/docs/examples/quarantined")
        for arguments in [["migrate"], ["registry", "import", Self.repository + "/docs/examples/registry"]] {
            let outcome = try Binary.run(arguments, database: database)
            try #require(outcome.status == 0, "\(arguments): \(outcome.stderr)")
        }
        let settled = try Binary.run(
            [
                "settle", "--inbox", workspace.inbox, "--outbox", workspace.outbox, "--archive", workspace.archive,
                "--quarantine", workspace.quarantine,
            ], database: database, environment: try Binary.providerLanguage(language))
        #expect(settled.status == 3, "two example files are quarantined")
        for (path, text) in shown {
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: workspace.root + "/" + path)))
            if path.hasSuffix(".zst") { bytes = try Zstd.decompress(bytes) }
            // The result file's digest depends on the zstd build; everything else must be as shown.
            #expect(Self.maskingDigest(String(decoding: bytes, as: UTF8.self)) == Self.maskingDigest(text), "\(path)")
        }
    }

    /// What a reader of either guide must find in both: the same sections, and the same codes, reasons, field
    /// names, file name patterns, commands and numbers.
    struct Facts: Equatable {
        /// Each heading's level and section number (`## 8.` → 2, "8"; `### Reasons` → 3, nil), in order.
        var headings: [String] = []
        /// The text of every inline code span outside fenced blocks, its white space collapsed (a span may wrap).
        var codeSpans: Set<String> = []
        /// Identifiers with an underscore: codes (`BAD_NAME`), fields (`amount_yen`), name patterns.
        var identifiers: Set<String> = []
        /// The commands of the console blocks.
        var commands: Set<String> = []
        /// Every number, without thousands separators (`5,000` is 5000).
        var numbers: Set<String> = []

        init(_ markdown: String) {
            var fenced = false
            var prose = ""
            for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("```") {
                    fenced.toggle()
                    continue
                }
                if fenced {
                    if line.hasPrefix("$ ") { commands.insert(String(line)) }
                } else {
                    if line.hasPrefix("#") {
                        let level = line.prefix { $0 == "#" }.count
                        let number = line.dropFirst(level).drop { $0 == " " }.prefix { $0.isNumber }
                        headings.append("\(level) \(number)")
                    }
                    prose += line + "\n"
                }
                for match in line.matches(of: /[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+/) { identifiers.insert(String(match.0)) }
                for match in line.matches(of: /[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+/) {
                    numbers.insert(match.0.filter { $0 != "," })
                }
            }
            for match in prose.matches(of: /`([^`]+)`/) {
                codeSpans.insert(match.output.1.split(whereSeparator: \.isWhitespace).joined(separator: " "))
            }
        }
    }

    /// The Japanese guide is the English guide's sections, facts and commands, in Japanese.
    @Test func theJapaneseGuideSaysWhatTheEnglishGuideSays() throws {
        let english = Facts(try String(contentsOfFile: Self.guide, encoding: .utf8))
        let japanese = Facts(try String(contentsOfFile: Self.japaneseGuide, encoding: .utf8))
        #expect(english.headings.count >= 12)
        #expect(japanese.headings == english.headings)
        #expect(english.codeSpans.subtracting(japanese.codeSpans).isEmpty, "only in English")
        #expect(japanese.codeSpans.subtracting(english.codeSpans).isEmpty, "only in Japanese")
        #expect(english.identifiers.subtracting(japanese.identifiers).isEmpty, "only in English")
        #expect(japanese.identifiers.subtracting(english.identifiers).isEmpty, "only in Japanese")
        #expect(japanese.commands == english.commands)
        #expect(english.numbers.subtracting(japanese.numbers).isEmpty, "only in English")
        #expect(japanese.numbers.subtracting(english.numbers).isEmpty, "only in Japanese")
        let codes = ["BAD_NAME", "NOT_A_FILE", "CONTROL_MISMATCH", "CAP_REACHED", "ALREADY_SETTLED"]
        #expect(codes.allSatisfy { japanese.identifiers.contains($0) })
    }

    static func maskingDigest(_ text: String) -> String {
        text.replacing(/"sha256": "[0-9a-f]{64}"/, with: "\"sha256\": \"…\"")
    }
}
