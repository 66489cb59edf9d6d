import Testing

@Test func placeholderZstdTests() { #expect(Bool(true)) }
