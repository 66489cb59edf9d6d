import Testing

@Test func placeholderSmartCardTests() { #expect(Bool(true)) }
