import Foundation
import Postgres
import TestSupport
import Testing

/// Operations through the built binary: metrics file, runs, verify, reports, JSON logs, job units.
@Suite struct OperationsEndToEndTests {
    static let lockKey: Int64 = 0x6D79_6E61_7365_7474

    @Test func metricsFileAfterSuccessQuarantineLockAndFailure() throws {
        let deployment = try Deployment(generated: 3000, faults: true)
        let metrics = deployment.workspace.root + "/mynapoint.prom"
        let summaryPath = deployment.workspace.root + "/summary.json"
        let run = try deployment.settle(["--metrics-file", metrics, "--summary-json", summaryPath])
        #expect(run.status == 3, "\(run.stderr)")
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
            as! [String: Any]
        var parsed = try MetricsText.parse(try String(contentsOfFile: metrics, encoding: .utf8))
        #expect(parsed["mynapoint_settle_exit_code"] == 3)
        #expect(parsed["mynapoint_settle_points"] == Double(summary["points"] as! Int))
        #expect(
            parsed["mynapoint_settle_files{outcome=\"quarantined\"}"] == Double(summary["quarantined_files"] as! Int))
        #expect(parsed["mynapoint_settle_files{outcome=\"settled\"}"] == Double(summary["settled_files"] as! Int))
        let records = parsed.filter { $0.key.hasPrefix("mynapoint_settle_records{") }
        #expect(records.count == 14)
        #expect(records.values.reduce(0, +) == Double(summary["records"] as! Int))
        let granted = records.filter { $0.key.contains("outcome=\"granted\"") }.values.reduce(0, +)
        #expect(granted == Double(summary["granted_records"] as! Int))
        let success = try #require(parsed["mynapoint_settle_last_success_timestamp_seconds"])
        #expect(success > 1_600_000_000)

        // Skipped for the lock: exit 75 recorded, the last success kept.
        let holder = try deployment.database.connect()
        defer { holder.close() }
        #expect(try holder.tryAdvisoryLock(Self.lockKey))
        let locked = try deployment.settle(["--metrics-file", metrics])
        #expect(locked.status == 75)
        parsed = try MetricsText.parse(try String(contentsOfFile: metrics, encoding: .utf8))
        #expect(parsed["mynapoint_settle_exit_code"] == 75)
        #expect(parsed["mynapoint_settle_last_success_timestamp_seconds"] == success)
        #expect(parsed["mynapoint_settle_points"] == 0)
        try holder.advisoryUnlock(Self.lockKey)

        // A failure before anything is read: exit 1 recorded.
        let failed = try Binary.run(
            [
                "settle", "--inbox", deployment.workspace.root + "/nowhere", "--outbox", "o", "--archive", "a",
                "--quarantine", "q",
                "--metrics-file", metrics,
            ], database: deployment.database)
        #expect(failed.status == 1)
        parsed = try MetricsText.parse(try String(contentsOfFile: metrics, encoding: .utf8))
        #expect(parsed["mynapoint_settle_exit_code"] == 1)
        #expect(parsed["mynapoint_settle_last_success_timestamp_seconds"] == success)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: deployment.workspace.root).filter {
                $0.hasSuffix(".tmp")
            }.isEmpty)
    }

    @Test func runsListAndShow() throws {
        let deployment = try Deployment(generated: 2000, faults: true)
        #expect(try deployment.settle().status == 3)
        let list = try Binary.run(["runs", "list"], database: deployment.database)
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("RUN"))
        #expect(lines[1].hasPrefix("1 ") || lines[1].hasPrefix("  1") || lines[1].contains(" 1 "))
        let json = try Binary.run(["runs", "list", "--json"], database: deployment.database)
        let runs = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        #expect(runs.count == 1)
        let id = runs[0]["run_id"] as! Int
        #expect(runs[0]["version"] as? String == "0.1.0")
        #expect((runs[0]["started_by"] as? String)?.contains("@") == true)
        #expect(runs[0]["quarantined_files"] as? Int ?? 0 > 0)

        let show = try Binary.run(["runs", "show", String(id)], database: deployment.database)
        #expect(show.status == 0)
        #expect(show.stdout.contains("run \(id)"))
        #expect(show.stdout.contains("CHECKSUM_MISMATCH"))
        #expect(show.stdout.contains("rate_percent 25"))
        #expect(show.stdout.contains("version:    0.1.0"))
        let detail = try Binary.run(["runs", "show", String(id), "--json"], database: deployment.database)
        let object = try JSONSerialization.jsonObject(with: Data(detail.stdout.utf8)) as! [String: Any]
        #expect((object["parameters"] as? [String: Any])?["cap_points"] as? Int == 5000)
        #expect(
            (object["files"] as? [[String: Any]])?.count == (runs[0]["files"] as! Int)
                + (runs[0]["quarantined_files"] as! Int))
        let missing = try Binary.run(["runs", "show", "999"], database: deployment.database)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no committed run 999"))
    }

    @Test func verifyExitCodesAndPreciseLines() throws {
        let deployment = try Deployment(generated: 2000, faults: false)
        #expect(try deployment.settle().status == 0)
        let clean = try Binary.run(["verify", "--outbox", deployment.workspace.outbox], database: deployment.database)
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(clean.stdout.split(separator: "\n").count == 1)
        #expect(clean.stdout.contains("no differences"))

        let connection = try deployment.database.connect()
        defer { connection.close() }
        let key = try connection.query("SELECT min(holder_key) FROM ledger WHERE points > 0")[0, 0].int()
        let points = try connection.query("SELECT points FROM ledger WHERE holder_key = $1", [.int(key)])[0, 0].int()
        try connection.query("UPDATE ledger SET points = points - 1 WHERE holder_key = $1", [.int(key)])
        let control = deployment.workspace.outbox + "/P0003/P0003_20210105_0002.result.ctl"
        try FileManager.default.removeItem(atPath: control)
        let broken = try Binary.run(["verify", "--outbox", deployment.workspace.outbox], database: deployment.database)
        #expect(broken.status == 2)
        let lines = broken.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(lines)")
        #expect(
            lines.first?.hasSuffix("(holder_key \(key)): ledger.points: expected \(points), found \(points - 1)")
                == true)
        #expect(lines.last == "file P0003_20210105_0002.csv.zst: outbox \(control): expected present, found missing")
        #expect(broken.stderr.contains("2 differences"))
        let notAFolder = try Binary.run(["verify", "--outbox", control], database: deployment.database)
        #expect(notAFolder.status == 1)
    }

    @Test func reportFormatsAndStatementThroughTheBinary() throws {
        let deployment = try Deployment(generated: 2000, faults: true)
        #expect(try deployment.settle().status == 3)
        let page = deployment.workspace.root + "/report.html"
        let html = try Binary.run(["report", "--format", "html", "-o", page], database: deployment.database)
        #expect(html.status == 0, "\(html.stderr)")
        let text = try String(contentsOfFile: page, encoding: .utf8)
        #expect(text.hasPrefix("<!DOCTYPE html>"))
        #expect(text.contains("All 3 reconciliation checks pass"))
        let csv = try Binary.run(["report", "--format", "csv"], database: deployment.database)
        #expect(
            csv.stdout.hasPrefix("provider_id,files,records,granted_records,points,eligible_amount,rejected_MALFORMED"))
        #expect(csv.stdout.contains("\r\n"))
        let json = try Binary.run(["report", "--format", "json"], database: deployment.database)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect(Set(report.keys) == ["providers", "totals", "holders_at_cap", "checks"])
        let statement = try Binary.run(["report", "statement"], database: deployment.database)
        #expect(statement.status == 0, "\(statement.stderr)")
        let rows = statement.stdout.split(separator: "\r\n")
        #expect(
            rows.first
                == "month,provider_id,provider_name,runs,files,records,granted_records,eligible_amount_yen,points_claimed,cumulative_points"
        )
        #expect(rows.count == 5)
        let total = rows.last!.split(separator: ",")
        #expect(total[1] == "TOTAL")
        #expect(Int(total[8]) == (report["totals"] as! [String: Int])["points"])
        let badMonth = try Binary.run(["report", "statement", "--month", "2021-13"], database: deployment.database)
        #expect(badMonth.status != 0)
        let badFormat = try Binary.run(["report", "--format", "xml"], database: deployment.database)
        #expect(badFormat.status != 0)
    }

    @Test func jsonLogsAreOneObjectPerLine() throws {
        let deployment = try Deployment(generated: 1000, faults: true)
        let run = try deployment.settle(["--log-format", "json", "--log-level", "info"])
        #expect(run.status == 3)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count >= 3)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["message"] is String, "\(line)")
            #expect(["info", "notice", "warning"].contains(object?["level"] as? String ?? ""), "\(line)")
            #expect((object?["timestamp"] as? String)?.hasSuffix("Z") == true)
        }
        #expect(run.stderr.contains("\"code\":\"CHECKSUM_MISMATCH\""))
        let bad = try deployment.settle(["--log-format", "xml"])
        #expect(bad.status != 0)
    }

    static var jobsFolder: String { DropWorkspace.fixtures() + "/../../Jobs" }

    static let systemdAnalyze: String? = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// The units, with the install paths pointed at the built binary and the scripts, pass `systemd-analyze verify`.
    @Test(.enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed"))
    func systemdUnitsVerify() throws {
        let folder = FileManager.default.temporaryDirectory.path + "/units-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let jobs = URL(fileURLWithPath: Self.jobsFolder).standardized.path
        let units = ["mynapoint-settle.service", "mynapoint-settle.timer", "mynapoint-alert@.service"]
        for unit in units {
            let text = try String(contentsOfFile: jobs + "/" + unit, encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/mynapoint", with: Binary.path)
                .replacingOccurrences(of: "/usr/local/lib/mynapoint", with: jobs)
            try text.write(toFile: folder + "/" + unit, atomically: true, encoding: .utf8)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.systemdAnalyze!)
        process.arguments =
            ["verify", "--man=no"] + units.filter { !$0.contains("@.") }.map { folder + "/" + $0 }
            + [folder + "/mynapoint-alert@mynapoint-settle.service.service"]
        // The template instance is loaded from its template file in the same folder.
        try FileManager.default.copyItem(
            atPath: folder + "/mynapoint-alert@.service",
            toPath: folder + "/mynapoint-alert@mynapoint-settle.service.service")
        var environment = ProcessInfo.processInfo.environment
        environment["SYSTEMD_LOG_LEVEL"] = "warning"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = errors
        try process.run()
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // Complaints about units of the host (not ours) are not this test's business.
        let ours = output.split(separator: "\n").filter { $0.contains("mynapoint") }
        #expect(process.terminationStatus == 0 || ours.isEmpty, "\(output)")
        #expect(ours.isEmpty, "\(output)")

        let calendar = Process()
        calendar.executableURL = URL(fileURLWithPath: Self.systemdAnalyze!)
        calendar.arguments = ["calendar", "*-*-* *:10:00 Asia/Tokyo"]
        calendar.standardOutput = Pipe()
        try calendar.run()
        calendar.waitUntilExit()
        #expect(calendar.terminationStatus == 0)
    }
}

/// A minimal Prometheus text reader: `# HELP`/`# TYPE` before samples, `name{labels} value` per line.
enum MetricsText {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Samples by series (`name{labels}` as written).
    static func parse(_ text: String) throws -> [String: Double] {
        guard text.hasSuffix("\n") else { throw Failure(description: "no final line feed") }
        var typed = Set<String>()
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["gauge", "counter", "untyped"].contains(parts[3]) else {
                    throw Failure(description: "bad TYPE line: \(line)")
                }
                typed.insert(String(parts[2]))
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw Failure(description: "bad sample: \(line)")
            }
            let series = String(line[..<space])
            let name = String(series.prefix { $0 != "{" })
            guard name.range(of: "^[a-zA-Z_:][a-zA-Z0-9_:]*$", options: .regularExpression) != nil, typed.contains(name)
            else {
                throw Failure(description: "sample without TYPE or with a bad name: \(line)")
            }
            if series.contains("{") {
                guard
                    series.range(of: #"^[^{]+\{([a-z_]+="[^"]*")(,[a-z_]+="[^"]*")*\}$"#, options: .regularExpression)
                        != nil
                else {
                    throw Failure(description: "bad labels: \(line)")
                }
            }
            guard samples.updateValue(value, forKey: series) == nil else {
                throw Failure(description: "duplicate \(series)")
            }
        }
        return samples
    }
}
