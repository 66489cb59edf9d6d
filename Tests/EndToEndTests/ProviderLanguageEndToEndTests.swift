import Foundation
import TestSupport
import Testing
import Zstd

/// The built binary: `provider_language` changes only the sentences providers read — the `message` of
/// `error.json` and of the summary, and `check`'s text — never a code, a line, a result file or the ledger.
@Suite(.serialized) struct ProviderLanguageEndToEndTests {
    /// A drop that meets every quarantine code once settled twice: the generator's faults, the check faults, and a
    /// second file under a name the first settle settled.
    static func deployment() throws -> Deployment {
        let deployment = try Deployment(generated: 2000, faults: true)
        try CheckEndToEndTests.addFaults(to: deployment.workspace)
        try deployment.workspace.drop("P0001_20210107_0001.csv.zst", csv: csv("R1"))
        return deployment
    }

    static func csv(_ recordID: String) -> String {
        "record_id,mykey_id,kind,amount_yen,occurred_at\n\(recordID),AAAA0001,charge,100,2020-10-01T10:00:00+09:00\n"
    }

    /// Settles the drop, then a file under a settled name (`NAME_REUSED`), with `provider_language` `language`.
    static func settle(_ deployment: Deployment, language: String) throws -> [[String: Any]] {
        let environment = try Binary.providerLanguage(language)
        var files: [[String: Any]] = []
        for round in 1...2 {
            if round == 2 { try deployment.workspace.drop("P0001_20210107_0001.csv.zst", csv: csv("R2")) }
            let path = deployment.workspace.root + "/summary-\(round).json"
            let settled = try deployment.settle(["--summary-json", path], environment: environment)
            #expect(settled.status == 3, "\(settled.stderr)")
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
            files += try #require((summary as? [String: Any])?["files"] as? [[String: Any]])
        }
        return files
    }

    /// Every file under `folder`, by path relative to it, with its bytes.
    static func contents(of folder: String) throws -> [String: Data] {
        var found: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: folder)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &isDirectory),
                !isDirectory.boolValue
            else { continue }
            found[path] = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + path))
        }
        return found
    }

    @Test func onlyTheMessagesChangeWithTheProviderLanguage() throws {
        let english = try Self.deployment()
        let japanese = try Self.deployment()
        let englishFiles = try Self.settle(english, language: "en")
        let japaneseFiles = try Self.settle(japanese, language: "ja")

        // The summaries: the same files, outcomes, codes and lines; the message in the language asked for.
        #expect(englishFiles.count == japaneseFiles.count)
        var codes: Set<String> = []
        for (en, ja) in zip(englishFiles, japaneseFiles) {
            #expect(NSDictionary(dictionary: withoutMessage(en)).isEqual(to: withoutMessage(ja)), "\(en) / \(ja)")
            guard en["outcome"] as? String == "quarantined" else { continue }
            codes.insert(en["code"] as? String ?? "")
            try expectSameSentence(en["message"], ja["message"], "\(en["file"] ?? "")")
        }
        #expect(
            codes == [
                "BAD_NAME", "NOT_A_FILE", "UNKNOWN_PROVIDER", "BAD_CONTROL", "CHECKSUM_MISMATCH", "NAME_REUSED",
                "BAD_COMPRESSION", "TOO_LARGE", "BAD_HEADER", "CONTROL_MISMATCH",
            ])

        // Result files, result control files and the archive: byte for byte.
        for folder in [\DropWorkspace.outbox, \.archive] {
            let en = try Self.contents(of: english.workspace[keyPath: folder])
            let ja = try Self.contents(of: japanese.workspace[keyPath: folder])
            #expect(!en.isEmpty && en == ja)
        }
        // The quarantine folder: the same files; error.json the same but for the message.
        let enQuarantine = try Self.contents(of: english.workspace.quarantine)
        let jaQuarantine = try Self.contents(of: japanese.workspace.quarantine)
        #expect(Set(enQuarantine.keys) == Set(jaQuarantine.keys))
        var reasons = 0
        for (name, enBytes) in enQuarantine {
            let jaBytes = try #require(jaQuarantine[name])
            guard name.hasSuffix(".error.json") else {
                #expect(enBytes == jaBytes, "\(name)")
                continue
            }
            let en = try #require(try JSONSerialization.jsonObject(with: enBytes) as? [String: Any])
            let ja = try #require(try JSONSerialization.jsonObject(with: jaBytes) as? [String: Any])
            #expect(NSDictionary(dictionary: withoutMessage(en)).isEqual(to: withoutMessage(ja)), "\(name)")
            try expectSameSentence(en["message"], ja["message"], name)
            reasons += 1
        }
        #expect(reasons >= 10)
        // The ledger: the same rows (the stored sentence aside, which this state leaves out).
        #expect(try english.state() == japanese.state())
    }

    @Test func checkSpeaksTheLanguageAskedForAndItsJSONDoesNot() throws {
        let deployment = try Self.deployment()
        let inbox = deployment.workspace.inbox
        let english = try Binary.providerLanguage("en")
        let japanese = try Binary.providerLanguage("ja")
        let byDefault = try Binary.run(["check", inbox], database: nil)
        let configured = try Binary.run(["check", inbox], database: nil, environment: english)
        let optionEn = try Binary.run(["check", "--lang", "en", inbox], database: nil, environment: japanese)
        let optionJa = try Binary.run(["check", inbox, "--lang=ja"], database: nil, environment: english)
        for outcome in [byDefault, configured, optionEn, optionJa] { #expect(outcome.status == 3, "\(outcome.stderr)") }
        #expect(configured.stdout == optionEn.stdout, "--lang en and provider_language en say the same")
        #expect(byDefault.stdout == optionJa.stdout, "Japanese unless told otherwise")
        #expect(!configured.stdout.unicodeScalars.contains(where: isKana), "\(configured.stdout)")
        let enLines = configured.stdout.split(separator: "\n")
        let jaLines = byDefault.stdout.split(separator: "\n")
        #expect(enLines.count == jaLines.count && enLines.count > 10)
        for (en, ja) in zip(enLines, jaLines) {
            #expect(ja.unicodeScalars.contains(where: isJapanese), "\(ja)")
            #expect(tokens(String(en)) == tokens(String(ja)), "\(en) / \(ja)")
        }
        #expect(enLines.last?.hasSuffix("waiting") == true && jaLines.last?.contains("待機中") == true)

        let jsonEn = try Binary.run(["check", "--format", "json", "--lang", "en", inbox], database: nil)
        let jsonJa = try Binary.run(["check", "--format", "json", "--lang", "ja", inbox], database: nil)
        #expect(jsonEn.status == 3 && jsonEn.stdout == jsonJa.stdout, "JSON is the same in every language")
    }

    /// The dictionary without its `message`.
    func withoutMessage(_ object: [String: Any]) -> [String: Any] {
        var copy = object
        copy["message"] = nil
        return copy
    }

    /// The English sentence is English, the Japanese one Japanese, and both name the same files, codes and numbers.
    func expectSameSentence(_ en: Any?, _ ja: Any?, _ what: String) throws {
        let english = try #require(en as? String, "\(what)")
        let japanese = try #require(ja as? String, "\(what)")
        #expect(!english.unicodeScalars.contains(where: isKana), "\(what): \(english)")
        #expect(japanese.unicodeScalars.contains(where: isKana), "\(what): \(japanese)")
        #expect(tokens(english) == tokens(japanese), "\(what): \(english) / \(japanese)")
    }

    /// Hiragana or katakana.
    func isKana(_ scalar: Unicode.Scalar) -> Bool { (0x3040...0x30FF).contains(scalar.value) }

    /// Hiragana, katakana or a CJK ideograph.
    func isJapanese(_ scalar: Unicode.Scalar) -> Bool { isKana(scalar) || (0x4E00...0x9FFF).contains(scalar.value) }

    /// Runs of ASCII letters, digits, `_` and `.` that hold a digit or an `_`: file names, codes, numbers.
    func tokens(_ text: String) -> [String: Int] {
        var found: [String: Int] = [:]
        var current = ""
        for scalar in text.unicodeScalars.map(\.self) + [" "] {
            if scalar.isASCII
                && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                    || "_.".unicodeScalars.contains(scalar))
            {
                current.unicodeScalars.append(scalar)
                continue
            }
            let trimmed = current.trimmingCharacters(in: CharacterSet(charactersIn: "."))
            if trimmed.contains(where: { $0.isNumber || $0 == "_" }) { found[trimmed, default: 0] += 1 }
            current = ""
        }
        return found
    }
}
