import DropFormat
import Foundation
import TestSupport
import Testing

@testable import Settlement

#if canImport(Glibc)
import Glibc
#endif

/// The file layer: names as bytes, entries examined without being followed, and failures that say what, where and
/// what to do.
@Suite struct FileOperationsTests {
    /// A name no UTF-8 decoder accepts (a Latin-1 `é` and a lone continuation byte).
    static let latin1Name = EntryName(bytes: Array("P0001_20210105_0001".utf8) + [0xE9, 0x80] + Array(".csv.zst".utf8))

    /// Creates the file `name` in `folder` with `bytes`, through the C call, so that the name stays bytes.
    static func create(_ name: EntryName, in folder: String, _ bytes: [UInt8]) throws {
        let path =
            Array(folder.utf8).map { CChar(bitPattern: $0) } + [0x2F] + name.bytes.map { CChar(bitPattern: $0) }
            + [0]
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        try #require(descriptor >= 0, "errno \(errno)")
        defer { close(descriptor) }
        #expect(bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } == bytes.count)
    }

    @Test func aNameThatIsNotUTF8IsListedExaminedReadAndMovedAsItsBytes() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        try Self.create(Self.latin1Name, in: workspace.inbox, Array("contents".utf8))
        #expect(try FileOperations.entries(of: workspace.inbox) == [Self.latin1Name])
        let path = EntryPath(folder: workspace.inbox, name: Self.latin1Name)
        #expect(path.display == workspace.inbox + "/P0001_20210105_0001\\xE9\\x80.csv.zst")
        #expect(try FileOperations.kind(path) == .regular)
        #expect(FileOperations.hasContents(path, Array("contents".utf8)))

        try FileOperations.makeDirectory(workspace.archive + "/P0001")
        let archived = EntryPath(folder: workspace.archive + "/P0001", name: Self.latin1Name)
        #expect(try FileOperations.move(path, to: archived))
        #expect(try FileOperations.kind(path) == .missing)
        #expect(try FileOperations.entries(of: workspace.archive + "/P0001") == [Self.latin1Name])
        #expect(try FileOperations.move(path, to: archived) == false, "a source already moved is not an error")
    }

    @Test func aHardLinkIsKnownWithoutBeingOpenedAndIsNeverRead() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let elsewhere = workspace.root + "/elsewhere"
        try Data("not the provider's".utf8).write(to: URL(fileURLWithPath: elsewhere))
        #expect(link(elsewhere, workspace.inbox + "/P0001_20210105_0001.csv.zst") == 0)
        let path = EntryPath(folder: workspace.inbox, name: EntryName("P0001_20210105_0001.csv.zst"))
        #expect(try FileOperations.kind(path) == .hardLink)
        guard case .failure(.notAFile(.regular, hardLink: true)) = FileOperations.openRegular(path) else {
            Issue.record("a hard link was opened")
            return
        }
    }

    @Test func aSymbolicLinkIsNeverFollowed() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        try Data("outside".utf8).write(to: URL(fileURLWithPath: workspace.root + "/outside"))
        #expect(symlink(workspace.root + "/outside", workspace.inbox + "/P0001_20210105_0001.ctl") == 0)
        let path = EntryPath(folder: workspace.inbox, name: EntryName("P0001_20210105_0001.ctl"))
        #expect(try FileOperations.kind(path) == .symbolicLink)
        guard case .failure(.notAFile(.symbolicLink, hardLink: false)) = FileOperations.openRegular(path) else {
            Issue.record("a symbolic link was followed")
            return
        }
    }

    @Test func aFolderThatCannotBeReadIsNamedWithWhatToDo() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let missing = workspace.root + "/no-such-inbox"
        let error = #expect(throws: FileOperationError.self) { try FileOperations.entries(of: missing) }
        #expect(error?.operation == .readFolder)
        #expect(
            error?.description
                == "cannot read the folder \(missing): No such file or directory; check the path and its permissions")
        let stopped = error.map(SettlementError.init)
        #expect(stopped?.code == .io)
        #expect(stopped?.message == error?.description)
    }

    @Test func aFileInTheWayOfAFolderIsNamedWithWhatToDo() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let folder = workspace.outbox + "/P0001"
        try Data("in the way".utf8).write(to: URL(fileURLWithPath: folder))
        let error = #expect(throws: FileOperationError.self) { try FileOperations.makeDirectory(folder) }
        #expect(error?.operation == .createFolder)
        #expect(error?.description.hasPrefix("cannot create the folder \(folder): File exists;") == true)
        #expect(error?.description.hasSuffix("move it away") == true)
    }

    /// A write is whole, with the run's mode, and leaves no temporary file.
    ///
    /// Whatever the umask: `InboxEntryTests` runs the binary under others; the umask is the process's, so not here.
    @Test func writesAreWholeWithTheRunsModeAndLeaveNoTemporaryFile() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let folder = workspace.outbox + "/P0001/deep"
        try FileOperations.makeDirectory(folder)
        try FileOperations.writeAtomically(Array("first".utf8), folder: folder, name: EntryName("result.csv"))
        try FileOperations.writeAtomically(Array("second".utf8), folder: folder, name: EntryName("result.csv"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["result.csv"])
        #expect(FileManager.default.contents(atPath: folder + "/result.csv") == Data("second".utf8))
        var status = stat()
        #expect(stat(folder + "/result.csv", &status) == 0 && status.st_mode & 0o777 == 0o640)
        #expect(stat(folder, &status) == 0 && status.st_mode & 0o777 == 0o750)
    }

    @Test func aControlFileTooLongIsRefusedAndTheDigestCoversTheWholeFile() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let long = EntryName("P0001_20210105_0001.ctl")
        try Self.create(long, in: workspace.inbox, (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        guard case .success(let opened) = FileOperations.openRegular(EntryPath(folder: workspace.inbox, name: long))
        else {
            Issue.record("a regular file was refused")
            return
        }
        #expect(opened.identity.size == 300_000)
        #expect(try opened.readAll(limit: 299_999) == nil)

        let short = EntryName("P0001_20210105_0002.ctl")
        try Self.create(short, in: workspace.inbox, Array("abc".utf8))
        guard case .success(let abc) = FileOperations.openRegular(EntryPath(folder: workspace.inbox, name: short))
        else {
            Issue.record("a regular file was refused")
            return
        }
        var first: UInt8 = 0
        #expect(try withUnsafeMutableBytes(of: &first) { try abc.read(into: $0) } == 1)
        // The SHA-256 of "abc" (FIPS 180-2), whatever was read before.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        #expect(try abc.sha256().map { String(format: "%02x", $0) }.joined() == expected)
    }

    /// A symbolic link moved to another file system is made again there with the very bytes of its target.
    @Test(.enabled(if: FileManager.default.isWritableFile(atPath: "/dev/shm")))
    func aLinkMovedToAnotherFileSystemKeepsItsTargetBytes() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let elsewhere = "/dev/shm/mynapoint-links-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let target: [CChar] = Array("../outside-\u{E9}".utf8).map { CChar(bitPattern: $0) } + [-1, 0]
        let name = EntryName("P0001_20210105_0001.csv.zst")
        #expect(symlink(target, workspace.inbox + "/" + name.display) == 0)
        #expect(
            try FileOperations.move(
                EntryPath(folder: workspace.inbox, name: name), to: .init(folder: elsewhere, name: name)))
        var read = [CChar](repeating: 0, count: 256)
        let length = readlink(elsewhere + "/" + name.display, &read, read.count)
        #expect(Array(read.prefix(max(length, 0))) == Array(target.dropLast()))
        #expect(try FileOperations.kind(EntryPath(folder: workspace.inbox, name: name)) == .missing)
    }
}
