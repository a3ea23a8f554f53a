// A real browser for the report page: Debian's chromium (headless: --dump-dom, --screenshot),
// installed with apt-get as root on first use; and a plain python3, whose zlib reads the PNG.
import Foundation

extension TestTools {
    /// The chromium executable, installed on first use; or why it cannot be had.
    public static let chromium: Result<String, ToolUnavailable> = findOrInstall("chromium", packages: ["chromium"])

    /// A python3 (the standard library only), installed on first use; or why it cannot be had.
    public static let python3: Result<String, ToolUnavailable> = findOrInstall("python3", packages: ["python3"])

    private static func findOrInstall(_ name: String, packages: [String]) -> Result<String, ToolUnavailable> {
        if let found = which(name) { return .success(found) }
        return withInstallLock(name) {
            if let found = which(name) { return .success(found) }
            if let failure = aptInstall(packages) { return .failure(ToolUnavailable("\(name) is missing: \(failure)")) }
            if let found = which(name) { return .success(found) }
            return .failure(ToolUnavailable("apt-get installed \(packages.joined(separator: " ")), but there is still no \(name)"))
        }
    }
}
