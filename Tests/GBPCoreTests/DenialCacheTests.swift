import Testing
@testable import GBPCore

@Suite("Remembered denials")
struct DenialCacheTests {
    let key = FlowKey(src: IPAddress("10.0.0.1")!, dst: IPAddress("10.0.0.2")!, srcPort: 40000, dstPort: 6000, proto: 17, tenant: 3)
    let byRule = Verdict(allowed: false, reason: .deniedByRule, log: true, contract: 7, rule: 42)

    func home(_ k: FlowKey) -> Int { Int(truncatingIfNeeded: CanonicalFlowKey.hash(k)) & 0xFFFF }

    @Test func linesAreOneCacheLine() {
        #expect(MemoryLayout<Denial>.stride == 64)
    }

    @Test func keepsPolicyDenialsOfTCPUDPAndSCTPOnly() {
        for proto: UInt8 in [6, 17, 132] {
            #expect(DenialCache.keeps(byRule, proto: proto))
            #expect(DenialCache.keeps(.drop(.noContract), proto: proto))
            #expect(DenialCache.keeps(.drop(.intraGroupDenied), proto: proto))
            // Not a function of the flow's key and epoch alone, or not a denial at all.
            for reason: DropReason in [.conntrackInvalid, .conntrackFull, .conntrackTenantBudget, .unknownSource, .spoofedIP] {
                #expect(!DenialCache.keeps(.drop(reason), proto: proto))
            }
            #expect(!DenialCache.keeps(Verdict(allowed: true, reason: nil), proto: proto))
        }
        // ICMP's type is not in the key: an echo request and a reply share it.
        for proto: UInt8 in [1, 58, 47] { #expect(!DenialCache.keeps(byRule, proto: proto)) }
    }

    @Test func aDenialHoldsForItsDirectionAndEpochOnly() {
        let cache = DenialCache(lines: 64)
        defer { cache.deallocate() }
        #expect(cache.lookup(key, home: home(key), epoch: 1) == nil)
        cache.remember(key, home: home(key), epoch: 1, verdict: byRule, source: 12)
        let d = cache.lookup(key, home: home(key), epoch: 1)
        #expect(d?.reason == .deniedByRule)
        #expect(d?.source == 12)
        #expect(d?.rule == 42)
        #expect(d?.contract == 7)
        #expect(d?.log == true)
        // The reverse direction may be allowed; another epoch decides again.
        #expect(cache.lookup(key.reversed, home: home(key.reversed), epoch: 1) == nil)
        #expect(cache.lookup(key, home: home(key), epoch: 2) == nil)
        // Any other field of the key makes another flow.
        var other = key
        other.dstPort = 6001
        #expect(cache.lookup(other, home: home(key), epoch: 1) == nil)
        other = key
        other.tenant = 4
        #expect(cache.lookup(other, home: home(key), epoch: 1) == nil)
        other = key
        other.proto = 6
        #expect(cache.lookup(other, home: home(key), epoch: 1) == nil)
        other = key
        other.src = IPAddress(hi: 0x2001_0db8 << 32, lo: key.src.lo)   // an IPv6 address with the same low word
        #expect(cache.lookup(other, home: home(key), epoch: 1) == nil)
    }

    @Test func admittingTheConnectionForgetsItsDenialFromEitherEnd() {
        let cache = DenialCache(lines: 64)
        defer { cache.deallocate() }
        let noContract = Verdict.drop(.noContract)
        cache.remember(key, home: home(key), epoch: 1, verdict: noContract, source: 12)
        cache.forget(key.reversed, home: home(key.reversed))
        #expect(cache.lookup(key, home: home(key), epoch: 1) == nil)
        cache.remember(key, home: home(key), epoch: 1, verdict: noContract, source: 12)
        cache.forget(key, home: home(key))
        #expect(cache.lookup(key, home: home(key), epoch: 1) == nil)
        // Another flow of the same line stays.
        cache.remember(key, home: home(key), epoch: 1, verdict: noContract, source: 12)
        var other = key
        other.srcPort = 40001
        cache.forget(other, home: home(key))
        #expect(cache.lookup(key, home: home(key), epoch: 1)?.reason == .noContract)
    }

    @Test func aLineHoldsTheLastDenialOfItsFlows() {
        let cache = DenialCache(lines: 16)
        defer { cache.deallocate() }
        var other = key
        other.srcPort = 40001
        cache.remember(key, home: 5, epoch: 1, verdict: byRule, source: 12)
        cache.remember(other, home: 5 + 16, epoch: 1, verdict: .drop(.intraGroupDenied), source: 13)
        #expect(cache.lookup(key, home: 5, epoch: 1) == nil)
        #expect(cache.lookup(other, home: 5, epoch: 1)?.reason == .intraGroupDenied)
        #expect(cache.count == 2)
    }
}
