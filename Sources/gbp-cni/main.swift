import Foundation
import GBPCNI

// gbp-cni: a CNI plugin attaching containers to gbpd (README, "Use it with podman").
// The runtime passes CNI_* variables and the network config on standard input; the
// result, or a CNI error object, goes to standard output.
let input = FileHandle.standardInput.readDataToEndOfFile()
let (output, status) = Plugin.run(environment: ProcessInfo.processInfo.environment, stdin: input)
if !output.isEmpty || status != 0,
   let data = try? JSONSerialization.data(withJSONObject: output, options: [.sortedKeys, .withoutEscapingSlashes]) {
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}
exit(status)
