import Rules
import Testing

private func t(_ text: String) -> Instant { RFC3339.parse(text)! }

@Suite struct EligibilityTests {
    let campaign = Campaign.mynapoint2020
    let applied = (provider: "P0001", at: t("2020-08-15T10:00:00+09:00"))
    let certificate = CertificateValidity(
        notBefore: t("2019-04-01T09:00:00+09:00"), notAfter: t("2024-03-31T23:59:59+09:00"))

    func check(
        _ at: String, provider: String = "P0001", status: HolderStatus? = .active,
        application: (provider: String, at: Instant)?? = nil, certificates: [CertificateValidity]? = nil
    ) -> Reason {
        Eligibility.check(
            occurredAt: t(at), provider: provider, holderStatus: status,
            application: application ?? applied, certificates: certificates ?? [certificate], campaign: campaign)
    }

    @Test func eligibleRecord() { #expect(check("2020-10-01T09:00:00+09:00") == .none) }

    @Test func windowIsHalfOpenAcrossOffsets() {
        #expect(check("2020-09-01T00:00:00+09:00") == .none)
        #expect(check("2020-08-31T14:59:59.999999999Z") == .outOfWindow)
        #expect(check("2021-03-31T14:59:59Z") == .none)
        #expect(check("2021-03-31T23:59:59.999999999+09:00") == .none)
        #expect(check("2021-04-01T00:00:00+09:00") == .outOfWindow)
        #expect(check("2021-03-31T15:00:00Z") == .outOfWindow)
    }

    @Test func reasonsInOrder() {
        // Out of window wins over everything after it.
        #expect(check("2019-01-01T00:00:00Z", status: nil) == .outOfWindow)
        #expect(check("2020-10-01T00:00:00Z", status: nil) == .unknownMyKey)
        #expect(check("2020-10-01T00:00:00Z", status: .revoked, application: .some(nil)) == .myKeyRevoked)
        #expect(check("2020-10-01T00:00:00Z", status: .suspended, application: .some(nil)) == .myKeySuspended)
        #expect(check("2020-10-01T00:00:00Z", application: .some(nil), certificates: []) == .notApplied)
        #expect(check("2020-10-01T00:00:00Z", provider: "P0002", certificates: []) == .otherProvider)
        #expect(
            check(
                "2020-10-01T00:00:00Z", application: (provider: "P0001", at: t("2020-11-01T00:00:00+09:00")),
                certificates: [])
                == .beforeApplication)
        #expect(check("2020-10-01T00:00:00Z", certificates: []) == .certExpired)
    }

    @Test func applicationInstantItselfCounts() {
        #expect(
            check("2020-08-15T10:00:00+09:00", application: (provider: "P0001", at: t("2020-08-15T10:00:00+09:00")))
                == .outOfWindow)
        let at = (provider: "P0001", at: t("2020-11-01T00:00:00+09:00"))
        #expect(check("2020-11-01T00:00:00+09:00", application: at) == .none)
        #expect(check("2020-10-31T14:59:59.999Z", application: at) == .beforeApplication)
    }

    @Test func certificateGapAndRenewal() {
        let old = CertificateValidity(
            notBefore: t("2015-12-01T09:00:00+09:00"), notAfter: t("2020-12-01T00:00:00+09:00"))
        let new = CertificateValidity(
            notBefore: t("2020-12-10T13:00:00+09:00"), notAfter: t("2025-12-09T23:59:59+09:00"))
        #expect(check("2020-11-30T23:59:59+09:00", certificates: [old, new]) == .none)
        #expect(check("2020-12-01T00:00:00+09:00", certificates: [old, new]) == .certExpired)
        #expect(check("2020-12-05T09:00:00+09:00", certificates: [old, new]) == .certExpired)
        #expect(check("2020-12-10T13:00:00+09:00", certificates: [old, new]) == .none)
    }

    @Test func revocationAtOrBeforeTheRecord() {
        let revoked = CertificateValidity(
            notBefore: t("2019-04-01T09:00:00+09:00"), notAfter: t("2024-03-31T23:59:59+09:00"),
            revokedAt: t("2021-01-15T12:00:00+09:00"))
        #expect(check("2021-01-15T11:59:59+09:00", certificates: [revoked]) == .none)
        #expect(check("2021-01-15T12:00:00+09:00", certificates: [revoked]) == .certRevoked)
        #expect(check("2021-01-20T09:00:00+09:00", certificates: [revoked]) == .certRevoked)
        // A valid replacement certificate wins over a revoked one.
        let replacement = CertificateValidity(
            notBefore: t("2021-01-16T00:00:00+09:00"), notAfter: t("2026-01-01T00:00:00+09:00"))
        #expect(check("2021-01-20T09:00:00+09:00", certificates: [revoked, replacement]) == .none)
        // Revoked and outside its own validity: expired, since no period covers the instant.
        let expiredRevoked = CertificateValidity(
            notBefore: t("2015-01-01T00:00:00Z"), notAfter: t("2020-10-01T00:00:00Z"),
            revokedAt: t("2020-09-01T00:00:00Z"))
        #expect(check("2020-11-01T00:00:00Z", certificates: [expiredRevoked]) == .certExpired)
    }

    @Test func reasonCodes() {
        #expect(Reason.allCases.map(\.code).filter { !$0.isEmpty }.count == 13)
        for reason in Reason.allCases { #expect(Reason(code: reason.code) == reason) }
        #expect(!Reason.capPartial.isRejection && !Reason.capReached.isRejection && !Reason.none.isRejection)
        #expect(Reason.duplicate.isRejection && Reason.certExpired.isRejection)
    }
}
