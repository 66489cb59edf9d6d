import Foundation
import TestSupport
import Testing

/// The configuration's `language` reaches the commands that take no `--config` (reports, run history, verify)
/// through the installed configuration, and `--lang` still wins over it.
@Suite struct LanguageSettingTests {
    @Test func theInstalledConfigurationsLanguageReachesRunHistory() throws {
        let deployment = try Deployment(generated: 0)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lang-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("mynapoint.json").path
        try #"{"language": "ja"}"#.write(toFile: config, atomically: true, encoding: .utf8)

        let english = try Binary.run(["runs", "list"], database: deployment.database)
        #expect(english.status == 0)
        #expect(english.stdout == "no committed runs\n")

        let configured = try Binary.run(
            ["runs", "list"], database: deployment.database, environment: ["MYNAPOINT_CONFIG": config])
        #expect(configured.status == 0)
        #expect(configured.stdout == "確定した実行はありません\n")

        let overridden = try Binary.run(
            ["runs", "list", "--lang", "en"], database: deployment.database, environment: ["MYNAPOINT_CONFIG": config])
        #expect(overridden.stdout == "no committed runs\n")

        // What programs read does not change: the JSON is the same under either language.
        let json = try Binary.run(["runs", "list", "--json"], database: deployment.database)
        let jsonConfigured = try Binary.run(
            ["runs", "list", "--json"], database: deployment.database, environment: ["MYNAPOINT_CONFIG": config])
        #expect(json.stdout == jsonConfigured.stdout)
    }
}
