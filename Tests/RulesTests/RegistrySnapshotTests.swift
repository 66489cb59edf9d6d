import PropertyBased
import Rules
import Testing

/// A MyKey ID from eight characters of `A–Z 0–9`.
private func myKey(_ text: String) -> MyKeyID { MyKeyID(text)! }

/// An instant `n` nanoseconds after the epoch.
private func at(_ n: Int64) -> Instant { Instant(nanosecondsSinceEpoch: n) }

@Suite struct RegistrySnapshotTests {
    @Test func providerIndexesAreRanksInByteOrderOfTheIDs() {
        var snapshot = RegistrySnapshot()
        let ids = ["A", "P0001", "P10", "P9", "PA"].map { ProviderID($0)! }
        let indexes = ids.enumerated().map { snapshot.addProvider($1, key: Int32(100 - $0)) }
        #expect(indexes == [0, 1, 2, 3, 4])
        #expect(ids.map { snapshot.providerIndex($0) } == [0, 1, 2, 3, 4])
        #expect(snapshot.providers == ids)
        #expect(snapshot.providerKeys == [100, 99, 98, 97, 96])
        #expect(snapshot.providerIndex(ProviderID("PB")!) == nil)
    }

    @Test func aProviderOutOfByteOrderIsRefused() async {
        await #expect(processExitsWith: .failure) {
            var snapshot = RegistrySnapshot()
            snapshot.addProvider(ProviderID("P9")!, key: 1)
            snapshot.addProvider(ProviderID("P10")!, key: 2)
        }
    }

    @Test func aProviderAddedTwiceIsRefused() async {
        await #expect(processExitsWith: .failure) {
            var snapshot = RegistrySnapshot()
            snapshot.addProvider(ProviderID("P1")!, key: 1)
            snapshot.addProvider(ProviderID("P1")!, key: 2)
        }
    }

    @Test func holdersAreFoundByKeyAndByEveryMyKeyIDTheyHad() {
        var snapshot = RegistrySnapshot()
        let provider = snapshot.addProvider(ProviderID("P1")!, key: 7)
        snapshot.reserveHolders(3, keys: 10...12)
        let first = snapshot.addHolder(key: 10, status: .active)
        let second = snapshot.addHolder(key: 12, status: .suspended)
        // A key outside the reserved bounds is still found (the index falls back to a dictionary).
        let third = snapshot.addHolder(key: 1_000_000, status: .revoked)
        snapshot.bind(myKey("OLDKEY01"), to: first, isCurrent: false)
        snapshot.bind(myKey("NEWKEY01"), to: first, isCurrent: true)
        snapshot.bind(myKey("HOLDER02"), to: second, isCurrent: true)
        snapshot.setApplication(of: first, provider: provider, at: at(5))
        snapshot.setBalance(of: second, Balance(points: 3, eligibleAmount: 12), eligibleRecords: 2)
        snapshot.addSettledFile("P1_20201001_0001.csv.zst", sha256: [1, 2, 3])

        #expect(snapshot.holderCount == 3)
        #expect([10, 12, 1_000_000, 11].map { snapshot.holder(key: $0) } == [first, second, third, nil])
        #expect(snapshot.holder(myKey: myKey("OLDKEY01")) == first)
        #expect(snapshot.holder(myKey: myKey("NEWKEY01")) == first)
        #expect(snapshot.holder(myKey: myKey("NOBODY01")) == nil)
        #expect(snapshot.currentMyKeys == [myKey("NEWKEY01"), myKey("HOLDER02"), nil])
        #expect(snapshot.statuses == [.active, .suspended, .revoked])
        #expect(snapshot.applicationProviders == [provider, -1, -1])
        #expect(snapshot.appliedAt[0] == at(5))
        #expect(snapshot.balances == [Balance(), Balance(points: 3, eligibleAmount: 12), Balance()])
        #expect(snapshot.eligibleRecords == [0, 2, 0])
        #expect(snapshot.settledFiles == ["P1_20201001_0001.csv.zst": [1, 2, 3]])
    }

    @Test func eligibilityReadsTheHoldersColumns() {
        var snapshot = RegistrySnapshot()
        let p1 = snapshot.addProvider(ProviderID("P1")!, key: 1)
        let p2 = snapshot.addProvider(ProviderID("P2")!, key: 2)
        let holder = snapshot.addHolder(key: 1, status: .active)
        snapshot.bind(myKey("HOLDER01"), to: holder, isCurrent: true)
        snapshot.setApplication(of: holder, provider: p1, at: at(20))
        snapshot.addCertificates([
            (holder, CertificateValidity(notBefore: at(0), notAfter: at(40))),
            (holder, CertificateValidity(notBefore: at(40), notAfter: at(80), revokedAt: at(60))),
        ])
        var campaign = Campaign.mynapoint2020
        campaign.windowStart = at(10)
        campaign.windowEnd = at(90)
        let reason = { (key: String, provider: Int32, t: Int64) in
            snapshot.eligibility(myKey: myKey(key), provider: provider, occurredAt: at(t), campaign: campaign)
        }
        let cases: [(String, Int32, Int64, Reason)] = [
            ("HOLDER01", p1, 30, .none), ("HOLDER01", p1, 5, .outOfWindow), ("HOLDER01", p2, 30, .otherProvider),
            ("HOLDER01", p1, 15, .beforeApplication), ("HOLDER01", p1, 50, .none), ("HOLDER01", p1, 70, .certRevoked),
            ("HOLDER01", p1, 85, .certExpired),
        ]
        for (key, provider, t, expected) in cases {
            #expect(reason(key, provider, t).holder == holder)
            #expect(reason(key, provider, t).reason == expected)
        }
        #expect(reason("NOBODY01", p1, 30).holder == nil)
        #expect(reason("NOBODY01", p1, 30).reason == .unknownMyKey)
    }

    /// Certificates added in any holder order, in any number of calls, end up with their holders in the order added.
    @Test func certificatesAreGroupedByHolderInTheOrderAdded() async {
        let batch = zip(Gen.int(in: 0...4), Gen.int(in: 0...1000)).array(of: 0...6)
        await propertyCheck(count: 500, input: batch.array(of: 0...5), Gen.bool()) { batches, lastHolderFirst in
            var snapshot = RegistrySnapshot()
            var expected: [[CertificateValidity]] = Array(repeating: [], count: 5)
            for key in 0..<5 {
                let holder = snapshot.addHolder(key: Int64(key), status: .active)
                // Holder by holder as they are added: the appending path.
                if lastHolderFirst {
                    let own = CertificateValidity(notBefore: at(Int64(key)), notAfter: at(2000))
                    snapshot.addCertificates([(holder, own)])
                    expected[key].append(own)
                }
            }
            for batch in batches {
                let added = batch.map {
                    (holder: Int32($0.0), validity: CertificateValidity(notBefore: at(Int64($0.1)), notAfter: at(2000)))
                }
                snapshot.addCertificates(added)
                for (holder, validity) in added { expected[Int(holder)].append(validity) }
            }
            #expect((0..<5).map { Array(snapshot.certificates(of: Int32($0))) } == expected)
        }
    }
}

@Suite struct SnapshotEligibilityTests {
    /// A holder: status, applied provider (or none) and time, certificates as `(from, length, revoked)`.
    static let holder = zip(
        Gen.int(in: 0...2), Gen.int(in: -1...1), Gen.int(in: 0...100),
        zip(Gen.int(in: 0...100), Gen.int(in: 0...60), Gen.int(in: -1...100)).array(of: 0...3))

    /// The batch lookup, the one-by-one lookup and a reading of the snapshot's public columns agree, whatever order
    /// the certificates were added in and however many records a batch holds.
    @Test func theBatchAgreesWithTheLookupOneByOne() async {
        await propertyCheck(
            count: 300, input: Self.holder.array(of: 0...8), Gen.bool(),
            zip(Gen.int(in: 0...10), Gen.int(in: 0...1), Gen.int(in: 0...100)).array(of: 0...150)
        ) { holders, holderByHolder, records in
            var snapshot = RegistrySnapshot()
            let providers = [
                snapshot.addProvider(ProviderID("P1")!, key: 1), snapshot.addProvider(ProviderID("P2")!, key: 2),
            ]
            var added: [(holder: Int32, validity: CertificateValidity)] = []
            for (i, (status, applied, at, certificates)) in holders.enumerated() {
                let h = snapshot.addHolder(key: Int64(i), status: HolderStatus.allCases[status])
                snapshot.bind(MyKeyID(rawValue: 0x4141_4141_4141_4141 + UInt64(i))!, to: h, isCurrent: true)
                if applied >= 0 { snapshot.setApplication(of: h, provider: providers[applied], at: Self.at(at)) }
                let own = certificates.map { from, length, revoked in
                    (
                        holder: h,
                        validity: CertificateValidity(
                            notBefore: Self.at(from), notAfter: Self.at(from + length),
                            revokedAt: revoked < 0 ? nil : Self.at(revoked))
                    )
                }
                // Holder by holder (the appending path), or all at the end, last holder first (the regrouping path).
                if holderByHolder { snapshot.addCertificates(own) } else { added.insert(contentsOf: own, at: 0) }
            }
            if !added.isEmpty { snapshot.addCertificates(added) }
            var campaign = Campaign.mynapoint2020
            campaign.windowStart = Self.at(10)
            campaign.windowEnd = Self.at(90)
            // Key `i` is holder `i`'s (an unknown key past the holders).
            let myKeys = records.map { 0x4141_4141_4141_4141 + UInt64($0.0) }
            let times = records.map { Int64($0.2) }
            var batchHolders = [Int32](repeating: -2, count: records.count)
            var batchReasons = [Reason](repeating: .malformed, count: records.count)
            var scratch = EligibilityScratch()
            for provider in providers {
                myKeys.withUnsafeBufferPointer { myKeys in
                    times.withUnsafeBufferPointer { times in
                        batchHolders.withUnsafeMutableBufferPointer { holders in
                            batchReasons.withUnsafeMutableBufferPointer { reasons in
                                snapshot.eligibility(
                                    myKeys: myKeys, occurredAt: times, provider: provider, campaign: campaign,
                                    holders: holders, reasons: reasons, scratch: &scratch)
                            }
                        }
                    }
                }
                for (i, record) in records.enumerated() {
                    let key = MyKeyID(rawValue: myKeys[i])!
                    let one = snapshot.eligibility(
                        myKey: key, provider: provider, occurredAt: Self.at(times[i]), campaign: campaign)
                    #expect(batchHolders[i] == one.holder ?? -1)
                    #expect(batchReasons[i] == one.reason)
                    let h = record.0 < holders.count ? Int32(record.0) : nil
                    #expect(one.holder == h)
                    let read = Eligibility.check(
                        occurredAt: Self.at(times[i]), provider: provider,
                        holderStatus: h.map { snapshot.statuses[Int($0)] },
                        application: h.flatMap { h in
                            snapshot.applicationProviders[Int(h)] < 0
                                ? nil
                                : (provider: snapshot.applicationProviders[Int(h)], at: snapshot.appliedAt[Int(h)])
                        },
                        certificates: h.map { Array(snapshot.certificates(of: $0)) } ?? [], campaign: campaign)
                    #expect(one.reason == read)
                }
            }
        }
    }

    static func at(_ n: Int) -> Instant { Instant(nanosecondsSinceEpoch: Int64(n)) }
    static func at(_ n: Int64) -> Instant { Instant(nanosecondsSinceEpoch: n) }
}
