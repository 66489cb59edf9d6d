/// Removes secrets and row values from texts that end up in `PostgresError`.
///
/// PostgreSQL echoes data in its messages (unique-violation keys, failing rows, rejected input), and callers may
/// log errors; values bound to statements and passwords in connection strings must not reach the logs.
enum Redaction {
    static let placeholder = "<redacted>"

    /// Values shorter than this are not scrubbed by exact match: they would mangle ordinary words and numbers of
    /// the message ("line 1"), and the structural rules already cover the places PostgreSQL quotes values.
    static let minimumScrubbedLength = 4

    /// Replaces passwords in conninfo text (`password=…`) and URLs (`postgresql://user:…@`), and every exact
    /// occurrence of `secrets`.
    static func scrubSecrets(_ text: String, secrets: [String] = []) -> String {
        var text = text
        for secret in secrets where !secret.isEmpty {
            text = text.replacing(secret, with: placeholder)
        }
        text = text.replacing(#/(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)/#) { match in
            "\(match.output.1)\(placeholder)"
        }
        text = text.replacing(#/(?i)(postgres(?:ql)?://[^:@/\s]*):[^@\s]*@/#) { match in
            "\(match.output.1):\(placeholder)@"
        }
        return text
    }

    /// Replaces the row values PostgreSQL quotes in its messages and details, and every exact occurrence of a
    /// bound value at least `minimumScrubbedLength` characters long.
    static func redactValues(_ text: String, boundValues: [String] = []) -> String {
        var text = text
        for value in boundValues where value.count >= minimumScrubbedLength {
            text = text.replacing(value, with: placeholder)
        }
        // Key (id)=(42) already exists. / is not present in table … / conflicts with existing key (id)=(7).
        text = text.replacing(
            #/\)=\((.*?)\)(?= already exists| is not present| is still referenced| conflicts with|\.?$)/#
        ) { _ in ")=(\(placeholder))" }
        text = text.replacing(#/Failing row contains \(.*\)/#) { _ in "Failing row contains (\(placeholder))" }
        // invalid input syntax for type integer: "abc" / invalid input value for enum mood: "x"
        text = text.replacing(#/: "(.*)"$/#) { _ in ": \"\(placeholder)\"" }
        text = text.replacing(#/value "(.*?)" is out of range/#) { _ in "value \"\(placeholder)\" is out of range" }
        return text
    }

    /// One line: libpq ends messages with a newline and continues them on tab-indented lines.
    static func oneLine(_ text: String) -> String {
        var lines: [Substring] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop(while: { $0 == "\t" || $0 == " " })
            if !trimmed.isEmpty { lines.append(trimmed) }
        }
        return lines.joined(separator: " ")
    }
}
