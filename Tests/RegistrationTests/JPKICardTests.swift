import Crypto
import Foundation
import Registration
import Rules
import SmartCard
import TestSupport
import Testing

/// The card protocol against the virtual applet, in process (no pcscd): APDUs and status-word outcomes.
@Suite struct JPKICardTests {
    let pki: TestPKI
    let leaf: TestLeaf

    init() async throws {
        pki = try await TestPKI.shared()
        leaf = try await pki.issueLeaf(
            by: pki.ca, serialHex: "1A2B3C", notBefore: Date().addingTimeInterval(-86_400),
            notAfter: Date().addingTimeInterval(86_400 * 365), key: pki.sharedLeafKey)
    }

    @Test func readsTheCertificateByItsDERLengthInChunksOfAtMost256Bytes() throws {
        let channel = AppletChannel(applet(leaf, pki: pki))
        let card = JPKICard(channel: channel)
        try card.selectApplication()
        #expect(try card.readTokenInfo() == "JPKIAPICCTOKEN2")
        let der = try card.readCertificateDER()
        #expect(der == leaf.certificate.der)
        let reads = channel.log.filter { $0[1] == 0xB0 }
        #expect(reads.count >= 2)
        // Le is the last byte of a READ BINARY; 00 means 256. No read reaches into the padding after the DER.
        for read in reads {
            let le = read[4] == 0 ? 256 : Int(read[4])
            let offset = Int(read[2]) << 8 | Int(read[3])
            #expect(le <= 256)
            if read != reads.first { #expect(offset + le <= der.count) }
        }
        #expect(channel.log[0] == [0x00, 0xA4, 0x04, 0x0C, 0x0A] + JPKICard.applicationID)
    }

    @Test func readsTheCACertificate() throws {
        let card = JPKICard(channel: AppletChannel(applet(leaf, pki: pki)))
        try card.selectApplication()
        #expect(try card.readCertificateDER(.caCertificate) == pki.ca.certificate.der)
    }

    @Test func aCardWithoutTheJPKIApplicationIsNotAMyNumberCard() {
        let card = JPKICard(channel: AppletChannel(applet(leaf, pki: pki, jpki: false)))
        expectFailure(.notMyNumberCard) { try card.selectApplication() }
    }

    @Test func triesLeftWrongPINRightPINAndBlocking() throws {
        let theApplet = applet(leaf, pki: pki)
        let card = JPKICard(channel: AppletChannel(theApplet))
        try card.selectApplication()
        try card.select(.pin)
        #expect(try card.pinStatus() == .triesLeft(3))
        expectFailure(.wrongPIN(triesLeft: 2)) { try card.verifyPIN(PIN("0000")!) }
        #expect(try card.pinStatus() == .triesLeft(2))
        try card.verifyPIN(PIN(testPIN)!)
        #expect(try card.pinStatus() == .triesLeft(3))  // a right PIN resets the counter
        expectFailure(.wrongPIN(triesLeft: 2)) { try card.verifyPIN(PIN("0000")!) }
        expectFailure(.wrongPIN(triesLeft: 1)) { try card.verifyPIN(PIN("0001")!) }
        expectFailure(.pinBlocked) { try card.verifyPIN(PIN("0002")!) }  // 63C0: just blocked
        #expect(try card.pinStatus() == .blocked)
        expectFailure(.pinBlocked) { try card.verifyPIN(PIN(testPIN)!) }  // 6984: even the right PIN
        #expect(theApplet.pinTriesLeft == 0)
    }

    @Test func signsADigestInfoOnlyAfterVERIFYAndInsideOneTransaction() throws {
        let channel = AppletChannel(applet(leaf, pki: pki))
        let card = JPKICard(channel: channel)
        let challenge = Array(repeating: UInt8(7), count: 32)
        try card.selectApplication()
        try card.select(.privateKey)
        expectFailure(.unexpectedStatus(0x6982)) { try card.sign(digestInfo: DigestInfo.sha256(challenge)) }
        let signature = try card.verifyAndSign(pin: PIN(testPIN)!, digestInfo: DigestInfo.sha256(challenge))
        #expect(signature.count == 256)
        #expect(leaf.certificate.publicKey.verifyRSASHA256(signature: signature, message: challenge))
        #expect(channel.transactions == 1)
        let instructions = channel.transacted.map { $0[1] }
        #expect(instructions == [0xA4, 0xA4, 0x20, 0xA4, 0x2A])  // AP, PIN EF, VERIFY, key EF, sign
        #expect(channel.transacted.last?.count == 5 + 51 + 1)  // Lc, the 51-byte DigestInfo, Le
    }

    @Test func pinsAreRedactedEverywhere() {
        let pin = PIN(testPIN)!
        var dumped = ""
        dump(pin, to: &dumped)
        for text in [pin.description, String(reflecting: pin), "\(pin)", dumped] {
            #expect(!text.contains(testPIN))
        }
        #expect(PIN("12a4") == nil)
        #expect(PIN("12345") == nil)
        #expect(PIN(" 1234\n") != nil)
    }

    @Test func passwordsAreRedactedAndChecked() throws {
        let password = try Password(testPassword + "\n")
        var dumped = ""
        dump(password, to: &dumped)
        for text in [password.description, String(reflecting: password), dumped] {
            #expect(!text.contains(testPassword))
        }
        expectFailure(.invalidPassword) { try Password("short") }
        expectFailure(.invalidPassword) { try Password("has\u{7}control") }
        #expect(password.matches(try Password(testPassword)))
    }

    @Test func randomMyKeyIDsHaveTheRightForm() throws {
        var seen = Set<String>()
        for _ in 0..<200 {
            let id = try Registrar.randomMyKeyID().description
            #expect(id.count == 8)
            #expect(id.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
            seen.insert(id)
        }
        #expect(seen.count == 200)
    }
}
