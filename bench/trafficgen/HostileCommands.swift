import ArgumentParser
import GBPCore
#if canImport(Glibc)
import Glibc
#endif

/// `gbp-trafficgen hostile`: the hostile corpus as a pcap and, beside it, the verdict
/// each frame must get (Tests/GBPIntegrationTests/HostileCorpusTests.swift checks gbpd against it).
struct Hostile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the hostile corpus: hostile.pcap and hostile.expected (one line per frame: index, reason or forward, name).")
    @Option(help: "Output folder.") var out = "config"

    func run() throws {
        let cases = HostileCorpus.cases
        try write(cases.map(\.frame), "\(out)/hostile.pcap", fixedTime: true)
        var text = "# frame\texpected\tcase (written by gbp-trafficgen hostile; 'forward' means it must pass)\n"
        for (i, c) in cases.enumerated() { text += "\(i + 1)\t\(c.reason?.name ?? "forward")\t\(c.name)\n" }
        try writeText(text, to: "\(out)/hostile.expected")
        print("wrote \(out)/hostile.pcap and \(out)/hostile.expected (\(cases.count) frames)")
    }
}

/// `gbp-trafficgen fuzz-seeds`: one file per frame for the fuzzer's seed corpus: valid
/// frames of every kind the parser knows, and the hostile corpus.
struct FuzzSeeds: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fuzz-seeds",
                                                    abstract: "Write the fuzz seed corpus (Tests/Fuzz/corpus), one file per frame.")
    @Option(help: "Output folder.") var out = "Tests/Fuzz/corpus"

    func run() throws {
        var seeds = FuzzSeedFrames.valid
        for c in HostileCorpus.cases where c.frame.count <= 2048 {
            seeds.append((c.name, c.frame))
        }
        for (i, s) in seeds.enumerated() {
            let slug = String(s.0.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
            let name = String(format3(i + 1)) + "-" + String(slug.prefix(48))
            try writeBytes(s.1, "\(out)/\(name)")
        }
        print("wrote \(seeds.count) seeds to \(out)")
    }

    func format3(_ n: Int) -> String { String(repeating: "0", count: max(0, 3 - String(n).count)) + String(n) }
}

func writeBytes(_ bytes: [UInt8], _ path: String) throws {
    guard let f = fopen(path, "wb") else { throw ValidationError("cannot write \(path)") }
    defer { fclose(f) }
    guard bytes.isEmpty || fwrite(bytes, 1, bytes.count, f) == bytes.count else { throw ValidationError("short write to \(path)") }
}
