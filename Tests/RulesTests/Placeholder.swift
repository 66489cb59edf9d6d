import Testing

@Test func placeholderRulesTests() { #expect(Bool(true)) }
