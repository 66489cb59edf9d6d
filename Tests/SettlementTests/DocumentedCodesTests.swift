import Foundation
import Rules
import Testing

@testable import Settlement

/// Every code a provider or finance can meet is explained in their guide: a code added to the code without a word
/// in the guide fails here.
@Suite struct DocumentedCodesTests {
    static func guide(_ name: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("docs/\(name)"), encoding: .utf8)
    }

    @Test(arguments: ["providers.md", "providers.ja.md"])
    func theProvidersGuideExplainsEveryQuarantineCodeAndReason(name: String) throws {
        let guide = try Self.guide(name)
        for code in QuarantineCode.allCases {
            #expect(guide.contains("`\(code.rawValue)`"), "docs/\(name) does not mention \(code.rawValue)")
        }
        for reason in Reason.allCases where reason != .none {
            #expect(guide.contains("`\(reason.code)`"), "docs/\(name) does not mention \(reason.code)")
        }
    }

    @Test func theFinanceGuideExplainsEveryReason() throws {
        let guide = try Self.guide("finance.md")
        for reason in Reason.allCases where reason != .none {
            #expect(guide.contains(reason.code), "docs/finance.md does not mention \(reason.code)")
        }
    }
}
