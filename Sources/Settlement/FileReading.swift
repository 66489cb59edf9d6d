import Dispatch
import Foundation
import Rules
import Synchronization

/// The reading of a run's files on a thread of its own (`SettlementRun.readFiles`), while the caller's thread reads
/// the rest of the registry snapshot and hands it over (`snapshot`) when it has it.
final class FileReading: Sendable {
    /// Where the whole snapshot is handed over to the reading.
    let snapshot = WholeSnapshot()
    private let done = DispatchSemaphore(value: 0)
    private let result = Mutex<Result<[FileIntake], any Error>?>(nil)

    /// Starts reading `files` with `snapshot`, which needs to hold only the providers and the settled files.
    init(_ files: [AdmittedFile], snapshot: RegistrySnapshot, options: SettlementOptions) {
        Thread { [self] in
            let read = Result {
                try SettlementRun.readFiles(files, snapshot: snapshot, options: options, whole: self.snapshot)
            }
            result.withLock { $0 = read }
            done.signal()
        }.start()
    }

    /// Waits for the reading to end; returns the files' intakes in name order, every record decided, or throws what
    /// stopped it.
    ///
    /// Call it once.
    func wait() throws -> [FileIntake] {
        done.wait()
        // The reading is over: the run's own reference to the snapshot is then the only one, and ends with the run's
        // last use of it, before the delivery allocates.
        snapshot.forget()
        // Taken out, so that the caller holds the only reference to the records and may change them in place.
        return try result.withLock { read in
            defer { read = nil }
            return read!
        }.get()
    }
}

/// The whole registry snapshot, handed over once from the thread that reads it to the threads reading files; nil
/// when it could not be read.
final class WholeSnapshot: Sendable {
    private let published = DispatchGroup()
    private let value = Mutex<RegistrySnapshot??>(nil)

    /// The reading ended without the snapshot.
    struct Missing: Error {}

    init() { published.enter() }

    /// Hands the snapshot over, or nil when it could not be read; once.
    func publish(_ snapshot: RegistrySnapshot?) {
        value.withLock { $0 = .some(snapshot) }
        published.leave()
    }

    /// The snapshot if it has been handed over (nil inside when it could not be read), or nil if not yet.
    func ifPublished() -> RegistrySnapshot?? { value.withLock { $0 } }

    /// Drops the snapshot handed over, once nothing waits for it.
    func forget() {
        value.withLock { if $0 != nil { $0 = .some(nil) } }
    }

    /// Waits for the hand-over; the snapshot, or nil when it could not be read.
    func wait() -> RegistrySnapshot? {
        published.wait()
        return value.withLock { $0! }
    }
}

extension Intake {
    /// Decides the records of the files read before the snapshot was whole, one file at a time, taken out of its
    /// slot meanwhile so that it is decided in place.
    static func decide(
        undecided: borrowing Mutex<[Int]>, slots: borrowing Mutex<[FileIntake?]>, snapshot: RegistrySnapshot,
        campaign: Campaign
    ) {
        var batch = EligibilityBatch()
        while let index = undecided.withLock({ $0.popLast() }) {
            var intake = slots.withLock { slots in
                defer { slots[index] = nil }
                return slots[index]!
            }
            let block = 1 << 14
            for start in stride(from: 0, to: intake.records.count, by: block) {
                Intake.decide(
                    &intake, records: start..<min(start + block, intake.records.count), snapshot: snapshot,
                    campaign: campaign, withoutRegistry: false, batch: &batch)
            }
            slots.withLock { $0[index] = intake }
        }
    }
}
