import ArgumentParser
import Foundation
import Ledger
import Localization
import Rules
import Settlement

/// The configuration file: campaign parameters, folders, database, trust anchors, limits.
///
/// Looked up at `--config`, then `$MYNAPOINT_CONFIG`, then `/etc/mynapoint/mynapoint.json`; without one, the
/// campaign defaults of the settlement spec §2 apply and folders must be given as options. The repository's
/// `Config/mynapoint.json` is the documented default to install there. The keys are snake_case, as operators write
/// them; the properties are their lowerCamelCase names.
struct Configuration: Sendable, Codable, Equatable {
    /// Campaign parameters as written in the file.
    struct CampaignSection: Sendable, Codable, Equatable {
        var ratePercent: Int?
        var capPoints: Int?
        var windowStart: String?
        var windowEnd: String?
        var rounding: String?

        enum CodingKeys: String, CodingKey {
            case rounding
            case ratePercent = "rate_percent"
            case capPoints = "cap_points"
            case windowStart = "window_start"
            case windowEnd = "window_end"
        }
    }

    /// Drop folders.
    struct FoldersSection: Sendable, Codable, Equatable {
        var inbox: String?
        var outbox: String?
        var archive: String?
        var quarantine: String?
    }

    /// Registry import (settlement spec §8).
    struct RegistrySection: Sendable, Codable, Equatable {
        /// The issuer of the certificates `certificates.csv` lists without an issuer column (or with it empty);
        /// default: the JPKI user-authentication CA's name.
        var certificateIssuer: String?

        enum CodingKeys: String, CodingKey {
            case certificateIssuer = "certificate_issuer"
        }
    }

    /// Registration (registration spec §5).
    struct RegistrationSection: Sendable, Codable, Equatable {
        /// Whether registration and card login need a current CRL of the certificate's issuer (default true).
        var requireCurrentCRL: Bool?

        enum CodingKeys: String, CodingKey {
            case requireCurrentCRL = "require_current_crl"
        }
    }

    var campaign: CampaignSection?
    var registry: RegistrySection?
    var registration: RegistrationSection?
    var folders: FoldersSection?
    var databaseURL: String?
    var workers: Int?
    /// Connections a run's grants are written over in parallel (1–64; default: the machine's cores).
    var commitConnections: Int?
    var trustAnchors: [String]?
    /// Limits on files and runs (settlement spec §11.2); keys left out keep their defaults.
    var limits: Limits?
    /// The language for people at this installation (`en` or `ja`), over the locale's; `--lang` overrides it.
    var language: String?
    /// The language of what providers read: quarantine reasons and `check` (`en` or `ja`; default `ja`).
    var providerLanguage: String?

    enum CodingKeys: String, CodingKey {
        case campaign, registry, registration, folders, workers, limits, language
        case databaseURL = "database_url"
        case providerLanguage = "provider_language"
        case commitConnections = "commit_connections"
        case trustAnchors = "trust_anchors"
    }

    /// The `--config` option's help, the same for every command.
    static let optionHelp: ArgumentHelp = "Configuration file (default: $MYNAPOINT_CONFIG, then \(defaultPath))."

    /// Where an installed configuration lives.
    static let defaultPath = "/etc/mynapoint/mynapoint.json"

    /// An empty configuration (all defaults).
    init() {}

    /// Reads the configuration from `path`, or from the usual places when nil; nil when there is none.
    static func load(path: String?) throws -> (Configuration, String)? {
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
            throw ConfigurationError("cannot read the configuration file \(chosen)")
        }
        do {
            return (try JSONDecoder().decode(Configuration.self, from: data), chosen)
        } catch {
            throw ConfigurationError("the configuration file \(chosen) is not valid: \(error)")
        }
    }

    /// The issuer of registry-imported certificates that name none.
    var registryCertificateIssuer: String {
        registry?.certificateIssuer ?? CertificateIssuer.jpkiUserAuthentication
    }

    /// The language of what providers read (default Japanese: the program's providers work in Japanese).
    func resolvedProviderLanguage() throws -> Language {
        guard let providerLanguage else { return .ja }
        do {
            return try Language.named(providerLanguage, source: "provider_language in the configuration")
        } catch {
            throw ConfigurationError(error.description)
        }
    }

    /// Whether card flows need a current CRL (fail closed unless the file turns it off).
    var requireCurrentCRL: Bool { registration?.requireCurrentCRL ?? true }

    /// The campaign: the file's parameters over the §2 defaults.
    func resolvedCampaign() throws -> Campaign {
        var result = Campaign.mynapoint2020
        guard let c = campaign else { return result }
        if let rate = c.ratePercent { result.ratePercent = rate }
        if let cap = c.capPoints { result.capPoints = cap }
        if let text = c.windowStart {
            guard let instant = RFC3339.parse(text) else {
                throw ConfigurationError("campaign.window_start \"\(text)\" is not an RFC 3339 time")
            }
            result.windowStart = instant
        }
        if let text = c.windowEnd {
            guard let instant = RFC3339.parse(text) else {
                throw ConfigurationError("campaign.window_end \"\(text)\" is not an RFC 3339 time")
            }
            result.windowEnd = instant
        }
        if let text = c.rounding {
            guard let rounding = Rounding(rawValue: text) else {
                throw ConfigurationError("campaign.rounding must be per_record or cumulative")
            }
            result.rounding = rounding
        }
        return result
    }
}

/// An unusable configuration file: one sentence saying which file or key, what is wrong and what to do.
struct ConfigurationError: Error, CustomStringConvertible {
    /// The sentence.
    var description: String

    /// A failure with its sentence.
    init(_ description: String) { self.description = description }
}
