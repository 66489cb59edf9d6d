import PropertyBased
import Rules
import Testing

/// A second reading of §4 checks 3–10, written as the table reads, to compare against `Eligibility.check`.
private func naiveReason(
    t: Int64, provider: Int, status: HolderStatus?, application: (Int, Int64)?, certificates: [(Int64, Int64, Int64?)],
    window: (Int64, Int64)
) -> Reason {
    let conditions: [(Bool, Reason)] = [
        (!(window.0 <= t && t < window.1), .outOfWindow),
        (status == nil, .unknownMyKey),
        (status == .revoked, .myKeyRevoked),
        (status == .suspended, .myKeySuspended),
        (application == nil, .notApplied),
        (application.map { $0.0 != provider } ?? false, .otherProvider),
        (application.map { t < $0.1 } ?? false, .beforeApplication),
    ]
    if let first = conditions.first(where: { $0.0 }) { return first.1 }
    let covering = certificates.filter { $0.0 <= t && t < $0.1 }
    if covering.contains(where: { $0.2 == nil || $0.2! > t }) { return .none }
    return covering.isEmpty ? .certExpired : .certRevoked
}

@Suite struct EligibilityPropertyTests {
    @Test func checkAgreesWithTheNaiveReading() async {
        let certificate = zip(Gen.int(in: 0...100), Gen.int(in: 0...60), Gen.int(in: -1...100))
            .map { start, length, revoked in (Int64(start), Int64(start + length), revoked < 0 ? nil : Int64(revoked)) }
        let application = zip(Gen.int(in: -1...2), Gen.int(in: 0...100))
            .map { provider, at in provider < 0 ? nil : (provider, Int64(at)) }
        await propertyCheck(
            count: 2000, input: Gen.int(in: 0...100), Gen.int(in: 0...2), Gen.int(in: -1...2), application,
            certificate.array(of: 0...3)
        ) { t, provider, statusIndex, application, certificates in
            let status: HolderStatus? = statusIndex < 0 ? nil : HolderStatus.allCases[statusIndex]
            var campaign = Campaign.mynapoint2020
            campaign.windowStart = Instant(nanosecondsSinceEpoch: 10)
            campaign.windowEnd = Instant(nanosecondsSinceEpoch: 90)
            let actual = Eligibility.check(
                occurredAt: Instant(nanosecondsSinceEpoch: Int64(t)), provider: provider, holderStatus: status,
                application: application.map { (provider: $0.0, at: Instant(nanosecondsSinceEpoch: $0.1)) },
                certificates: certificates.map {
                    CertificateValidity(
                        notBefore: Instant(nanosecondsSinceEpoch: $0.0), notAfter: Instant(nanosecondsSinceEpoch: $0.1),
                        revokedAt: $0.2.map { Instant(nanosecondsSinceEpoch: $0) })
                },
                campaign: campaign)
            let expected = naiveReason(
                t: Int64(t), provider: provider, status: status, application: application, certificates: certificates,
                window: (10, 90))
            #expect(actual == expected)
        }
    }
}
