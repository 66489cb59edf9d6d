import Foundation
import Testing

/// A usage error exits 64 and never echoes the value given: it may be a misplaced individual number.
@Suite struct UsageTests {
    @Test(arguments: [
        ["settle", "123456789012"], ["settle", "--workers", "123456789012x"], ["holder", "show", "123456789012"],
        ["report", "--format", "123456789012"], ["mykey", "suspend", "123456789012", "--reason", "x"],
    ])
    func aUsageErrorExits64WithoutTheValue(arguments: [String]) throws {
        let outcome = try Binary.run(arguments, database: nil)
        #expect(outcome.status == 64, "\(outcome.stderr)")
        #expect(!outcome.stderr.isEmpty)
        #expect(!(outcome.stdout + outcome.stderr).contains("123456789012"), "\(outcome.stderr)")
    }
}
