import Foundation
import Ledger
public import Rules

/// The configuration file (`Config/mynapoint.json`): campaign parameters, folders, trust anchors.
///
/// Looked up at `--config`, then `$MYNAPOINT_CONFIG`, then `/etc/mynapoint/mynapoint.json`; without one, the
/// campaign defaults of the settlement spec §2 apply and folders must be given as options. The repository's
/// `Config/mynapoint.json` is the documented default to install there.
public struct Configuration: Sendable, Codable, Equatable {
    /// Campaign parameters as written in the file.
    public struct CampaignSection: Sendable, Codable, Equatable {
        public var rate_percent: Int?
        public var cap_points: Int?
        public var window_start: String?
        public var window_end: String?
        public var rounding: String?
    }

    /// Drop folders.
    public struct FoldersSection: Sendable, Codable, Equatable {
        public var inbox: String?
        public var outbox: String?
        public var archive: String?
        public var quarantine: String?
    }

    /// Registry import (settlement spec §8).
    public struct RegistrySection: Sendable, Codable, Equatable {
        /// The issuer of the certificates `certificates.csv` lists without an issuer column (or with it empty);
        /// default: the JPKI user-authentication CA's name.
        public var certificate_issuer: String?
    }

    /// Registration (registration spec §5).
    public struct RegistrationSection: Sendable, Codable, Equatable {
        /// Whether registration and card login need a current CRL of the certificate's issuer (default true).
        public var require_current_crl: Bool?
    }

    public var campaign: CampaignSection?
    public var registry: RegistrySection?
    public var registration: RegistrationSection?
    public var folders: FoldersSection?
    public var database_url: String?
    public var workers: Int?
    public var trust_anchors: [String]?
    /// Limits on files and runs (settlement spec §11.2); keys left out keep their defaults.
    public var limits: Limits?

    /// Where an installed configuration lives.
    public static let defaultPath = "/etc/mynapoint/mynapoint.json"

    /// An empty configuration (all defaults).
    public init() {}

    /// Reads the configuration from `path`, or from the usual places when nil; nil when there is none.
    public static func load(path: String?) throws -> (Configuration, String)? {
        let environment = ProcessInfo.processInfo.environment["MYNAPOINT_CONFIG"]
        let candidates: [String] = [path, environment].compactMap { $0 }
        let chosen: String
        if let first = candidates.first {
            chosen = first
        } else if FileManager.default.fileExists(atPath: defaultPath) {
            chosen = defaultPath
        } else {
            return nil
        }
        guard let data = FileManager.default.contents(atPath: chosen) else {
            throw SettlementError(code: .configuration, message: "cannot read the configuration file \(chosen)")
        }
        do {
            return (try JSONDecoder().decode(Configuration.self, from: data), chosen)
        } catch {
            throw SettlementError(
                code: .configuration, message: "the configuration file \(chosen) is not valid: \(error)")
        }
    }

    /// The issuer of registry-imported certificates that name none.
    public var registryCertificateIssuer: String {
        registry?.certificate_issuer ?? CertificateIssuer.jpkiUserAuthentication
    }

    /// Whether card flows need a current CRL (fail closed unless the file turns it off).
    public var requireCurrentCRL: Bool { registration?.require_current_crl ?? true }

    /// The campaign: the file's parameters over the §2 defaults.
    public func resolvedCampaign() throws -> Campaign {
        var result = Campaign.mynapoint2020
        guard let c = campaign else { return result }
        if let rate = c.rate_percent { result.ratePercent = rate }
        if let cap = c.cap_points { result.capPoints = cap }
        if let text = c.window_start {
            guard let instant = RFC3339.parse(text) else {
                throw SettlementError(
                    code: .configuration, message: "campaign.window_start \"\(text)\" is not an RFC 3339 time")
            }
            result.windowStart = instant
        }
        if let text = c.window_end {
            guard let instant = RFC3339.parse(text) else {
                throw SettlementError(
                    code: .configuration, message: "campaign.window_end \"\(text)\" is not an RFC 3339 time")
            }
            result.windowEnd = instant
        }
        if let text = c.rounding {
            guard let rounding = Rounding(rawValue: text) else {
                throw SettlementError(
                    code: .configuration, message: "campaign.rounding must be per_record or cumulative")
            }
            result.rounding = rounding
        }
        return result
    }
}
