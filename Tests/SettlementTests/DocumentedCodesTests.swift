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

    @Test func theProvidersGuideExplainsEveryQuarantineCodeAndReason() throws {
        let guide = try Self.guide("providers.md")
        for code in QuarantineCode.allCases {
            #expect(guide.contains("`\(code.rawValue)`"), "docs/providers.md does not mention \(code.rawValue)")
        }
        for reason in Reason.allCases where reason != .none {
            #expect(guide.contains("`\(reason.code)`"), "docs/providers.md does not mention \(reason.code)")
        }
    }

    @Test func theFinanceGuideExplainsEveryReason() throws {
        let guide = try Self.guide("finance.md")
        for reason in Reason.allCases where reason != .none {
            #expect(guide.contains(reason.code), "docs/finance.md does not mention \(reason.code)")
        }
    }
}
