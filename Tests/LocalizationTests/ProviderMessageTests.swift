import Localization
import Testing

/// Every sentence a provider reads exists in English and Japanese, and both name the same codes, fields and numbers.
@Suite struct ProviderMessageTests {
    static let file = "P0001_20201001_0001.csv.zst"
    static let control = "P0001_20201001_0001.ctl"
    static let digest = String(repeating: "ab", count: 32)
    static let declared = String(repeating: "0c", count: 32)

    static var samples: [ProviderMessage] {
        [
            .badName(file: "P0001_20201301_1.csv.zst"),
            .notAFile(name: file, entry: .symbolicLink),
            .unknownProvider(provider: "P0009"),
            .checksumMismatch(file: file, digest: digest, declared: declared),
            .nameReused(file: file),
            .declaresTooMany(records: 20_000_001, limit: 20_000_000),
            .badCompression(file: file, detail: "zstd truncated: 17 bytes missing"),
            .lineTooLong(file: file, line: 7, limit: 4096),
            .decompressesTooLarge(file: file, limit: 8_589_934_592),
            .tooManyLines(file: file, limit: 20_000_000, line: 20_000_002),
            .badHeader(file: file),
            .badAmount(line: 12),
            .beyondDeclared(file: file, declared: 3, line: 5),
            .lineCount(file: file, lines: 2, declared: 3),
            .amountTotal(file: file, total: 1500, declared: 1600),
            .controlTooLarge,
            .controlNamesOther(named: "P0001_20201001_0002.csv.zst", expected: file),
            .controlNotJSON(detail: "expected a value at byte 1"),
            .controlForeignField(field: "extra_field"),
            .controlRepeatedField(field: "records"),
            .controlMissingField(field: "amount_total"),
            .controlNotStrings,
            .controlNotIntegers,
            .controlFormat(format: "mynapoint-records/1"),
            .controlDigest,
            .controlNegative,
            .resultControlNotJSON(detail: "text after the object"),
            .resultControlFormat(format: "mynapoint-results/1"),
            .resultControlIncomplete,
            .waitingForData(control: control),
            .waitingForControl(file: file),
            .duplicateAdvice,
            .outOfWindowAdvice(start: "2020-09-01T00:00:00+09:00", end: "2021-04-01T00:00:00+09:00"),
            .badQuotingAdvice,
            .fieldCountAdvice(found: 4),
            .fieldCountAdvice(found: nil),
            .recordIDAdvice,
            .individualNumberAdvice,
            .myKeyIDAdvice,
            .kindAdvice,
            .occurredAtAdvice,
            .malformedAdvice,
            .checkAccepted(file: file, records: 9, rejected: "DUPLICATE 1, MALFORMED 6"),
            .checkAccepted(file: file, records: 9, rejected: ""),
            .checkProblem(line: 3, record: 2, code: "MALFORMED", field: "mykey_id", advice: .myKeyIDAdvice),
            .checkProblem(line: 9, record: 7, code: "MALFORMED", field: nil, advice: .fieldCountAdvice(found: 4)),
            .checkMore(count: 12),
            .checkQuarantined(file: file, code: "BAD_HEADER", line: 1, reason: .badHeader(file: file)),
            .checkQuarantined(
                file: file, code: "BAD_CONTROL", line: nil,
                reason: .badControl(control: control, problem: .controlMissingField(field: "amount_total"))),
            .checkWaiting(file: file, reason: .waitingForControl(file: file)),
            .checkIgnored(names: "notes.txt, P0001_20201001_0001.csv"),
            .checkTotal(files: 4, accepted: 1, quarantined: 2, waiting: 1),
            .packWrote(
                data: "./P0001_20210105_0001.csv.zst", control: "./P0001_20210105_0001.ctl", records: 9,
                amountTotal: 62480),
            .packRefused,
        ]
            + ProviderMessage.Entry.allCases.map { .entry($0) }
            + ProviderMessage.Entry.allCases.map { .notAFile(name: control, entry: $0) }
            + [
                ProviderMessage.controlTooLarge, .controlNamesOther(named: "x", expected: file),
                .controlNotJSON(detail: "a string is not closed"), .controlForeignField(field: "x"),
                .controlRepeatedField(field: "sha256"), .controlMissingField(field: "format"), .controlNotStrings,
                .controlNotIntegers, .controlFormat(format: "mynapoint-records/1"), .controlDigest, .controlNegative,
            ].map { .badControl(control: control, problem: $0) }
    }

    @Test func everyMessageInBothLanguages() {
        checkParity(Self.samples)
    }

    /// The Japanese of a quarantine or of advice is whole sentences, polite, and joined without doubled stops:
    /// a provider's staff read it as it is.
    @Test func japaneseSentencesAreWholeAndPolite() {
        let parts: Set<ProviderMessage.Key> = [
            .entry, .controlTooLarge, .controlNamesOther, .controlNotJSON, .controlForeignField, .controlRepeatedField,
            .controlMissingField, .controlNotStrings, .controlNotIntegers, .controlFormat, .controlDigest,
            .controlNegative, .resultControlNotJSON, .resultControlFormat, .resultControlIncomplete, .checkAccepted,
            .checkMore, .checkTotal, .checkIgnored, .checkProblem, .checkQuarantined, .checkWaiting, .packWrote,
            .packRefused,
        ]
        for sample in Self.samples where !parts.contains(sample.key) {
            let text = sample.japanese
            #expect(text.hasSuffix("。"), "\(text)")
            #expect(!text.contains("。。") && !text.contains("、。"), "\(text)")
            #expect(text.contains("ます") || text.contains("です") || text.contains("ください"), "\(text)")
        }
    }

    /// What a file is, as the provider's words say it, is the same word in the `NOT_A_FILE` sentence.
    @Test func theEntryWordIsInTheSentence() {
        for entry in ProviderMessage.Entry.allCases {
            for language in Language.allCases {
                let word = ProviderMessage.entry(entry).text(language)
                #expect(ProviderMessage.notAFile(name: Self.file, entry: entry).text(language).contains(word))
            }
        }
    }
}
