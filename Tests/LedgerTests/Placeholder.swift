import Testing

@Test func placeholderLedgerTests() { #expect(Bool(true)) }
