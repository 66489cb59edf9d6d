import Rules
import Testing

private func bytes<T>(_ text: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
    var text = text
    return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
}

@Suite struct FieldFormTests {
    @Test(arguments: ["T1", "a", "A.b_c-9", String(repeating: "x", count: 64)])
    func validRecordIDs(_ id: String) { #expect(bytes(id, FieldForm.isRecordID)) }

    @Test(arguments: ["", "T 1", "T,1", "T\"1", "テスト", String(repeating: "x", count: 65), "a/b", "a+b"])
    func invalidRecordIDs(_ id: String) { #expect(!bytes(id, FieldForm.isRecordID)) }

    @Test func myKeyIDsAreEightUpperAlphanumerics() {
        #expect(MyKeyID("AAAA0001")?.description == "AAAA0001")
        #expect(MyKeyID("ZZZZ9999") != nil)
        for bad in ["aaaa0001", "AAAA001", "AAAA00011", "AAAA 001", "AAAA-001", "", "123456789012"] {
            #expect(MyKeyID(bad) == nil, "\(bad)")
        }
        #expect(MyKeyID("AAAA0001")! < MyKeyID("AAAA0002")!)
        #expect(MyKeyID("AAAA0009")! < MyKeyID("AAAAA000")!)
        let id = MyKeyID("K9Z0AB12")!
        #expect(MyKeyID(rawValue: id.rawValue) == id)
        #expect(MyKeyID(rawValue: 0) == nil)
    }

    @Test(arguments: [("1", 1), ("999999999", 999_999_999), ("10000", 10000)])
    func validAmounts(_ text: String, _ value: Int) { #expect(bytes(text, FieldForm.amount) == value) }

    @Test(arguments: ["0", "01", "1000000000", "-5", "+5", "1,000", "1.0", "1e3", "", " 5", "５"])
    func invalidAmounts(_ text: String) { #expect(bytes(text, FieldForm.amount) == nil) }

    @Test func kinds() {
        #expect(bytes("charge", FieldForm.kind) == .charge)
        #expect(bytes("purchase", FieldForm.kind) == .purchase)
        #expect(bytes("refund", FieldForm.kind) == nil)
        #expect(bytes("Charge", FieldForm.kind) == nil)
    }

    @Test func individualNumberShape() {
        #expect(bytes("123456789012", FieldForm.looksLikeIndividualNumber))
        #expect(!bytes("12345678901", FieldForm.looksLikeIndividualNumber))
        #expect(!bytes("1234567890123", FieldForm.looksLikeIndividualNumber))
        #expect(!bytes("12345678901A", FieldForm.looksLikeIndividualNumber))
    }

    @Test func providerIDs() {
        #expect(ProviderID("P0001") != nil)
        #expect(ProviderID(String(repeating: "A", count: 16)) != nil)
        #expect(ProviderID(String(repeating: "A", count: 17)) == nil)
        #expect(ProviderID("p0001") == nil)
        #expect(ProviderID("") == nil)
        #expect(ProviderID("P0001")! < ProviderID("P0002")!)
    }
}
