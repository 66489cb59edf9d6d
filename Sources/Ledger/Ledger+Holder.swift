import Postgres
public import Rules

/// A holder as `holder show` prints it.
public struct HolderView: Sendable, Codable, Equatable {
    public var mykey_id: String
    public var status: String
    public var provider_id: String?
    public var eligible_amount: Int
    public var points: Int
    public var records: Int
}

extension Ledger {
    /// The holder that has or ever had `myKey`, with its current MyKey ID and balance; nil when none.
    public func holder(myKey: MyKeyID) throws -> HolderView? {
        let result = try connection.query(
            """
            SELECT cur.mykey_id, h.status, p.provider_id, coalesce(l.eligible_amount, 0), coalesce(l.points, 0),
                   coalesce(l.records, 0)
            FROM mykey_ids m
            JOIN holders h ON h.holder_key = m.holder_key
            LEFT JOIN mykey_ids cur ON cur.holder_key = h.holder_key AND cur.retired_at_ns IS NULL
            LEFT JOIN applications a ON a.holder_key = h.holder_key
            LEFT JOIN providers p ON p.provider_key = a.provider_key
            LEFT JOIN ledger l ON l.holder_key = h.holder_key
            WHERE m.mykey_id = $1
            """, [.text(myKey.description)])
        guard result.rowCount == 1 else { return nil }
        return HolderView(
            mykey_id: result[0, 0].isNull ? myKey.description : try result[0, 0].string(),
            status: try result[0, 1].string(),
            provider_id: result[0, 2].isNull ? nil : try result[0, 2].string(),
            eligible_amount: Int(try result[0, 3].int()), points: Int(try result[0, 4].int()),
            records: Int(try result[0, 5].int()))
    }
}
