import ArgumentParser

@main
struct Mynapoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mynapoint",
        abstract: "Settles Mynapoint premium points for cashless payment providers.",
        version: "0.1.0"
    )
}
