import GBPControl
import Testing

@Suite struct ConfigLoaderTests {
    @Test func demoConfigLoads() throws {
        let c = try ConfigLoader.parse("""
        eal: [--no-huge]
        workers: [1]
        ports:
          - { name: p0, devargs: net_null0 }
        """, file: "t.yaml")
        #expect(c.runtime.ports.map(\.name) == ["p0"])
        #expect(c.runtime.workerLcores == [1])
    }
}
