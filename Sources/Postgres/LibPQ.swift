import CLibPQ

/// Error field codes for `PQresultErrorField` (the `PG_DIAG_*` macros are character literals Swift cannot import).
enum DiagnosticField {
    static let sqlState = Int32(UInt8(ascii: "C"))
    static let messagePrimary = Int32(UInt8(ascii: "M"))
    static let messageDetail = Int32(UInt8(ascii: "D"))
    static let messageHint = Int32(UInt8(ascii: "H"))
    static let tableName = Int32(UInt8(ascii: "t"))
    static let constraintName = Int32(UInt8(ascii: "n"))
}

/// Type OID of `bytea`, sent in binary so bytes need no hex encoding.
let byteaOID: Oid = 17

/// Owns one `PGresult`; `PQclear` runs exactly once, in `deinit`.
final class OwnedResult {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        PQclear(pointer)
    }

    var status: ExecStatusType { PQresultStatus(pointer) }

    /// The command tag, such as `INSERT 0 3` or `COPY 100000`.
    var commandTag: String { String(cString: PQcmdStatus(pointer)) }

    /// The row count of the command tag (`PQcmdTuples`), 0 when the command reports none.
    var affectedRows: Int { Int(String(cString: PQcmdTuples(pointer))) ?? 0 }
}

/// Lays `values` out in one buffer, NUL-terminating each, and passes C string pointers to them (nil stays nil).
func withCStrings<R>(_ values: [[UInt8]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var storage: [UInt8] = []
    var offsets: [Int?] = []
    offsets.reserveCapacity(values.count)
    for value in values {
        if let value {
            offsets.append(storage.count)
            storage.append(contentsOf: value)
            storage.append(0)
        } else {
            offsets.append(nil)
        }
    }
    return storage.withUnsafeBufferPointer { buffer in
        let base = UnsafeRawPointer(buffer.baseAddress)
        let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in
            guard let offset, let base else { return nil }
            return (base + offset).assumingMemoryBound(to: CChar.self)
        }
        return body(pointers)
    }
}

extension PostgresError {
    /// The error a failed result reports; the connection's message when there is no result.
    static func fromResult(
        _ result: OpaquePointer?, connection: OpaquePointer, code: Code, boundValues: [String] = []
    ) -> PostgresError {
        guard let result else { return fromConnection(connection, code: code, boundValues: boundValues) }
        func field(_ name: Int32) -> String? {
            guard let text = PQresultErrorField(result, name) else { return nil }
            return String(cString: text)
        }
        func redacted(_ text: String?) -> String? {
            text.map { Redaction.redactValues(Redaction.oneLine($0), boundValues: boundValues) }
        }
        let primary = field(DiagnosticField.messagePrimary) ?? String(cString: PQresultErrorMessage(result))
        let message = primary.isEmpty ? String(cString: PQerrorMessage(connection)) : primary
        let sqlState = field(DiagnosticField.sqlState)
        return PostgresError(
            code: refine(code, sqlState: sqlState, connection: connection),
            message: redacted(message) ?? "", sqlState: sqlState,
            detail: redacted(field(DiagnosticField.messageDetail)), hint: redacted(field(DiagnosticField.messageHint)),
            constraint: field(DiagnosticField.constraintName), table: field(DiagnosticField.tableName)
        )
    }

    /// The error `PQerrorMessage` reports for a call that produced no result.
    static func fromConnection(_ connection: OpaquePointer, code: Code, boundValues: [String] = []) -> PostgresError {
        let text = Redaction.oneLine(String(cString: PQerrorMessage(connection)))
        return PostgresError(
            code: refine(code, sqlState: nil, connection: connection),
            message: Redaction.redactValues(text.isEmpty ? "libpq reported no message" : text, boundValues: boundValues)
        )
    }

    /// Names the failures a caller handles differently: a lost connection, a lock that is not available.
    private static func refine(_ code: Code, sqlState: String?, connection: OpaquePointer) -> Code {
        if PQstatus(connection) == CONNECTION_BAD { return .connectionFailed }
        if sqlState == "55P03" { return .lockNotAvailable }
        return code
    }

    /// The error for a connection attempt that failed; `secrets` are scrubbed from the message.
    static func connectionFailure(_ rawMessage: String, secrets: [String]) -> PostgresError {
        let message = Redaction.scrubSecrets(Redaction.oneLine(rawMessage), secrets: secrets)
        let lowered = message.lowercased()
        // libpq offers no SQLSTATE for a failed connection; the server's FATAL text is all there is.
        let isAuthentication =
            lowered.contains("authentication failed") || lowered.contains("no password supplied")
            || lowered.contains("pg_hba.conf") || (lowered.contains("role \"") && lowered.contains("does not exist"))
        return PostgresError(
            code: isAuthentication ? .authenticationFailed : .connectionFailed,
            message: message.isEmpty ? "libpq reported no message" : message
        )
    }
}
