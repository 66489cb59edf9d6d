import Testing

@Test func placeholderSettlementTests() { #expect(Bool(true)) }
