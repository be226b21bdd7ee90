#if !GBP_FUZZ
import GBPCore
#if canImport(Glibc)
import Glibc
#endif

/// Without libFuzzer (a plain `swift build`), gbp-fuzz replays inputs through the same
/// checks: `gbp-fuzz FILE|DIR...` (a .pcap is replayed frame by frame). A broken
/// invariant stops it with the reason; exit 0 means every input passed.
@main
struct Replay {
    static func main() {
        let paths = Array(CommandLine.arguments.dropFirst())
        if paths.isEmpty {
            print("usage: gbp-fuzz FILE|DIR... (the libFuzzer build is Tests/Fuzz/run.sh)")
            exit(2)
        }
        var inputs = 0
        for path in paths {
            for file in files(path) {
                for frame in frames(file) {
                    frame.withUnsafeBytes { b in
                        _ = fuzzOneInput(b.baseAddress, b.count)
                    }
                    inputs += 1
                }
            }
        }
        print("gbp-fuzz: \(inputs) inputs replayed, every invariant held")
    }

    static func files(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [path] }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(path + "/" + name) }
        }
        return names.sorted()
    }

    static func frames(_ file: String) -> [[UInt8]] {
        if file.hasSuffix(".pcap") {
            do { return try PcapReader.readAll(path: file) } catch {
                print("gbp-fuzz: \(error)")
                exit(2)
            }
        }
        guard let bytes = read(file) else {
            print("gbp-fuzz: cannot read \(file)")
            exit(2)
        }
        return [bytes]
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let fp = fopen(path, "rb") else { return nil }
        defer { fclose(fp) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, fp)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }
}
#endif
