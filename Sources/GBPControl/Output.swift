import Foundation

/// Writes to standard error (messages for people, not stats).
public enum FileHandleOutput {
    public static func stderr(_ text: String) {
        FileHandle.standardError.write((text.hasSuffix("\n") ? text : text + "\n").data(using: .utf8)!)
    }
}
