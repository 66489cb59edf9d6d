import CLibPQ

/// One libpq connection (`PGconn`).
///
/// Every call blocks its thread until the server answers: call it from a dedicated thread, never from Swift's
/// cooperative pool, and from one thread at a time.
public final class PostgresConnection: @unchecked Sendable {
    // @unchecked Sendable: libpq allows a PGconn to move between threads but never to be used from two threads
    // at once; callers serialise access (one owner thread), as documented above.
    private var handle: OpaquePointer?

    private init(handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        close()
    }

    /// Connects from libpq's environment when `url` is nil, or from a `postgresql://` URL or a conninfo string.
    ///
    /// libpq fills whatever the URL leaves out from the environment (`PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`,
    /// `PGPASSWORD`, `PGSSLMODE`, `PGSERVICE`, `~/.pgpass`). The session uses `client_encoding` UTF8. Throws
    /// `authenticationFailed` when the server refuses the credentials and `connectionFailed` for any other failure,
    /// with every password libpq used scrubbed from the message. The corresponding C function is `PQconnectdbParams`.
    public static func connect(
        url: String? = nil, applicationName: String = "mynapoint"
    ) throws(PostgresError) -> PostgresConnection {
        var keywords: [[UInt8]?] = []
        var values: [[UInt8]?] = []
        if let url {
            // With expand_dbname, a URL or conninfo given as dbname is expanded; later keywords override it.
            keywords.append(Array("dbname".utf8))
            values.append(Array(url.utf8))
        }
        keywords += [Array("application_name".utf8), Array("client_encoding".utf8), nil]
        values += [Array(applicationName.utf8), Array("UTF8".utf8), nil]
        let pointer = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in PQconnectdbParams(keywordPointers, valuePointers, 1) }
        }
        guard let pointer else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        // Owned from here on, so a failed attempt is also finished exactly once, by deinit.
        let connection = PostgresConnection(handle: pointer)
        guard PQstatus(pointer) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(pointer))
            throw PostgresError.connectionFailure(message, secrets: passwords(of: pointer, url: url))
        }
        // libpq prints notices (NOTICE, WARNING) to stderr by default; a library must not write there.
        PQsetNoticeProcessor(pointer, { _, _ in }, nil)
        return connection
    }

    /// Runs one or more statements without parameters (simple protocol); their rows are discarded.
    ///
    /// Throws `queryFailed` with the server's error; a `COPY … STDIN/STDOUT` is refused as `protocolViolation`
    /// (use `copyIn` or `copyOut`). The corresponding C function is `PQexec`.
    public func execute(_ sql: String) throws(PostgresError) {
        let handle = try liveHandle()
        try Self.checkNoNUL(sql, what: "the SQL text")
        _ = try complete(PQexec(handle, sql), handle: handle)
    }

    /// Runs one parameterised statement (extended protocol) and returns its rows.
    ///
    /// Parameters travel as text, except `.bytes`, which travel in binary as `bytea`; at most 65535 of them. Bound
    /// values are scrubbed from the error's texts. The corresponding C function is `PQexecParams`.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresBind] = []) throws(PostgresError) -> PostgresResult {
        let handle = try liveHandle()
        try Self.checkNoNUL(sql, what: "the SQL text")
        guard parameters.count <= Int(UInt16.max) else {
            throw PostgresError(code: .queryFailed, message: "\(parameters.count) parameters exceed 65535")
        }
        var values: [[UInt8]?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var types: [Oid] = []
        for (index, parameter) in parameters.enumerated() {
            switch parameter {
            case .bytes(let bytes):
                guard let length = Int32(exactly: bytes.count) else {
                    throw PostgresError(code: .queryFailed, message: "parameter $\(index + 1) is too long")
                }
                values.append(bytes)
                lengths.append(length)
                formats.append(1)
                types.append(byteaOID)
            default:
                let text = parameter.textForm
                if let text { try Self.checkNoNUL(text, what: "parameter $\(index + 1)") }
                values.append(text.map { Array($0.utf8) })
                lengths.append(0)
                formats.append(0)
                types.append(0)
            }
        }
        values.append(Array(sql.utf8))
        let result = withCStrings(values) { pointers in
            PQexecParams(
                handle, pointers[parameters.count], Int32(parameters.count), types, Array(pointers.dropLast()),
                lengths, formats, 0)
        }
        return PostgresResult(try complete(result, handle: handle, parameters: parameters))
    }

    /// Runs `body` between `BEGIN` and `COMMIT`; rolls back and rethrows when `body` throws.
    ///
    /// Throws `protocolViolation` when a transaction is already open (transactions do not nest), and
    /// `queryFailed` when PostgreSQL rolled back at `COMMIT` because a statement inside had failed (an error `body`
    /// caught and ignored).
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let handle = try liveHandle()
        guard PQtransactionStatus(handle) == PQTRANS_IDLE else {
            throw PostgresError(code: .protocolViolation, message: "a transaction is already in progress")
        }
        try execute("BEGIN")
        do {
            let value = try body(self)
            let commit = try complete(PQexec(handle, "COMMIT"), handle: handle)
            guard commit.commandTag == "COMMIT" else {
                throw PostgresError(
                    code: .queryFailed, message: "the transaction was rolled back because a statement in it failed")
            }
            return value
        } catch {
            rollbackIfOpen()
            throw error
        }
    }

    /// Runs `COPY … FROM STDIN (FORMAT binary)`, with `body` writing the rows; returns the rows the server copied.
    ///
    /// A server error (a unique violation, say) ends the COPY and is thrown as `copyFailed` with its SQLSTATE and
    /// constraint. An error thrown by `body` aborts the COPY, so no row is copied, and is rethrown. Either way the
    /// connection is ready for the next statement. The corresponding C functions are `PQputCopyData` and
    /// `PQputCopyEnd`.
    @discardableResult
    public func copyIn(_ copySQL: String, _ body: (inout PostgresBinaryCopyWriter) throws -> Void) throws -> Int {
        let handle = try liveHandle()
        try startCopy(copySQL, expecting: PGRES_COPY_IN, handle: handle)
        let channel = CopyChannel(handle: handle)
        defer { channel.handle = nil }
        var writer = PostgresBinaryCopyWriter(channel: channel)
        do {
            try body(&writer)
        } catch {
            channel.handle = nil
            _ = PQputCopyEnd(handle, "COPY aborted by the client")
            _ = drainResults(handle)
            throw error
        }
        writer.finish()
        channel.handle = nil
        let sendFailure = channel.failure
        let endFailed = PQputCopyEnd(handle, sendFailure == nil ? nil : "COPY aborted by the client") != 1
        let endFailure = endFailed ? PostgresError.fromConnection(handle, code: .copyFailed) : nil
        let (serverError, rows) = drainResults(handle)
        // The server's error says most (SQLSTATE, constraint); a send failure usually follows from it.
        if let serverError { throw serverError }
        if let failure = sendFailure ?? endFailure { throw failure }
        return rows
    }

    /// Runs `COPY … TO STDOUT` and hands each row's bytes, as the server sent them, to `handler`.
    ///
    /// In text and CSV format a row ends with its newline; in binary format the first row carries the header and
    /// the end marker arrives alone. The bytes are valid only during the call. When `handler` throws, the rest of
    /// the output is read and discarded (leaving the connection usable) and the error is rethrown.
    /// The corresponding C function is `PQgetCopyData`.
    public func copyOut(_ copySQL: String, _ handler: (UnsafeRawBufferPointer) throws -> Void) throws {
        let handle = try liveHandle()
        try startCopy(copySQL, expecting: PGRES_COPY_OUT, handle: handle)
        var handlerError: (any Error)?
        var receiveFailure: PostgresError?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let count = PQgetCopyData(handle, &buffer, 0)
            if count > 0, let buffer {
                defer { PQfreemem(buffer) }
                if handlerError == nil {
                    do {
                        try handler(UnsafeRawBufferPointer(start: buffer, count: Int(count)))
                    } catch {
                        handlerError = error
                    }
                }
            } else if count == -1 {
                break  // done; the outcome follows as a result
            } else {
                receiveFailure = PostgresError.fromConnection(handle, code: .copyFailed)
                break
            }
        }
        let (serverError, _) = drainResults(handle)
        if let handlerError { throw handlerError }
        if let failure = serverError ?? receiveFailure { throw failure }
    }

    /// Takes the session advisory lock `key` if it is free; returns whether it was taken.
    public func tryAdvisoryLock(_ key: Int64) throws(PostgresError) -> Bool {
        try singleValue(query("SELECT pg_try_advisory_lock($1::bigint)", [.int(key)])).bool()
    }

    /// Takes the session advisory lock `key`, waiting while another session holds it.
    public func advisoryLock(_ key: Int64) throws(PostgresError) {
        try query("SELECT pg_advisory_lock($1::bigint)", [.int(key)])
    }

    /// Releases the session advisory lock `key`; throws `queryFailed` when this session does not hold it.
    public func advisoryUnlock(_ key: Int64) throws(PostgresError) {
        let released = try singleValue(query("SELECT pg_advisory_unlock($1::bigint)", [.int(key)])).bool()
        guard released else {
            throw PostgresError(code: .queryFailed, message: "advisory lock \(key) is not held by this session")
        }
    }

    /// Whether the connection is open and libpq still reports it usable (`false` once it was lost or closed).
    ///
    /// After a failed `COMMIT`, this tells a refusal by the server (the transaction was rolled back) from a lost
    /// connection, whose transaction's outcome is unknown. The corresponding C function is `PQstatus`.
    public var isConnected: Bool {
        handle.map { PQstatus($0) == CONNECTION_OK } ?? false
    }

    /// The server's version as a number, such as 150004 for 15.4; 0 when closed.
    public var serverVersion: Int {
        handle.map { Int(PQserverVersion($0)) } ?? 0
    }

    /// Closes the connection, after which every statement throws `connectionFailed`.
    ///
    /// Calling it again does nothing, and `deinit` closes a connection left open. The corresponding C function is
    /// `PQfinish`.
    public func close() {
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
    }

    // MARK: - Internals

    private func liveHandle() throws(PostgresError) -> OpaquePointer {
        guard let handle else { throw PostgresError(code: .connectionFailed, message: "the connection is closed") }
        return handle
    }

    /// Accepts a finished command's result, or turns it into the error it reports.
    private func complete(
        _ pointer: OpaquePointer?, handle: OpaquePointer, parameters: [PostgresBind] = []
    ) throws(PostgresError) -> OwnedResult {
        guard let pointer else {
            throw PostgresError.fromConnection(handle, code: .queryFailed, boundValues: Self.texts(of: parameters))
        }
        let result = OwnedResult(pointer)
        switch result.status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return result
        case PGRES_COPY_IN, PGRES_COPY_OUT:
            endUnexpectedCopy(result.status, handle: handle)
            throw PostgresError(
                code: .protocolViolation, message: "COPY … STDIN/STDOUT must go through copyIn or copyOut")
        default:
            throw PostgresError.fromResult(
                pointer, connection: handle, code: .queryFailed, boundValues: Self.texts(of: parameters))
        }
    }

    /// Runs a `COPY` statement and checks the server entered the expected COPY state.
    private func startCopy(_ sql: String, expecting: ExecStatusType, handle: OpaquePointer) throws(PostgresError) {
        try Self.checkNoNUL(sql, what: "the SQL text")
        guard let pointer = PQexec(handle, sql) else {
            throw PostgresError.fromConnection(handle, code: .queryFailed)
        }
        let result = OwnedResult(pointer)
        let status = result.status
        if status == expecting { return }
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN, PGRES_COPY_OUT:
            endUnexpectedCopy(status, handle: handle)
            let direction = expecting == PGRES_COPY_IN ? "FROM STDIN" : "TO STDOUT"
            throw PostgresError(
                code: .protocolViolation, message: "the statement is not a COPY … \(direction)")
        default:
            throw PostgresError.fromResult(pointer, connection: handle, code: .queryFailed)
        }
    }

    /// Leaves a COPY state the caller did not ask for, so the connection stays usable.
    private func endUnexpectedCopy(_ status: ExecStatusType, handle: OpaquePointer) {
        if status == PGRES_COPY_IN {
            _ = PQputCopyEnd(handle, "unexpected COPY FROM STDIN")
        } else if status == PGRES_COPY_OUT {
            discardCopyOut(handle)
        } else {
            return
        }
        _ = drainResults(handle)
    }

    private func discardCopyOut(_ handle: OpaquePointer) {
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let count = PQgetCopyData(handle, &buffer, 0)
            if let buffer { PQfreemem(buffer) }
            if count <= 0 { return }
        }
    }

    /// Reads results until libpq has none left; returns the first error and the row count of the last command.
    private func drainResults(_ handle: OpaquePointer) -> (error: PostgresError?, rows: Int) {
        var firstError: PostgresError?
        var rows = 0
        results: while let pointer = PQgetResult(handle) {
            let result = OwnedResult(pointer)
            switch result.status {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                rows = result.affectedRows
            case PGRES_COPY_IN:
                // A connection that cannot even end the COPY would hand back COPY_IN forever.
                guard PQputCopyEnd(handle, "unexpected COPY FROM STDIN") == 1 else { break results }
            case PGRES_COPY_OUT:
                discardCopyOut(handle)
            default:
                if firstError == nil {
                    firstError = PostgresError.fromResult(pointer, connection: handle, code: .copyFailed)
                }
            }
        }
        return (firstError, rows)
    }

    private func rollbackIfOpen() {
        guard let handle else { return }
        let status = PQtransactionStatus(handle)
        if status == PQTRANS_INTRANS || status == PQTRANS_INERROR {
            _ = try? execute("ROLLBACK")
        }
    }

    private func singleValue(_ result: PostgresResult) throws(PostgresError) -> PostgresCell {
        guard result.rowCount == 1, result.columnCount == 1 else {
            throw PostgresError(
                code: .protocolViolation,
                message: "expected one value, got \(result.rowCount) rows of \(result.columnCount) columns")
        }
        return result[0, 0]
    }

    private static func texts(of parameters: [PostgresBind]) -> [String] {
        parameters.compactMap(\.textForm)
    }

    /// libpq takes C strings, which end at the first NUL; refuse rather than send a truncated text.
    private static func checkNoNUL(_ text: String, what: String) throws(PostgresError) {
        if text.utf8.contains(0) {
            throw PostgresError(code: .queryFailed, message: "\(what) contains a NUL character")
        }
    }

    /// The passwords libpq used for the attempt (from the URL, `PGPASSWORD` or a service file), to scrub them.
    private static func passwords(of handle: OpaquePointer, url: String?) -> [String] {
        var found: [String] = []
        func collect(_ options: UnsafeMutablePointer<PQconninfoOption>?) {
            guard let options else { return }
            var option = options
            while let keyword = option.pointee.keyword {
                if String(cString: keyword) == "password", let value = option.pointee.val {
                    found.append(String(cString: value))
                }
                option += 1
            }
            PQconninfoFree(options)
        }
        collect(PQconninfo(handle))
        if let url {
            var parseError: UnsafeMutablePointer<CChar>?
            collect(PQconninfoParse(url, &parseError))
            if let parseError { PQfreemem(parseError) }
        }
        return found.filter { !$0.isEmpty }
    }
}
