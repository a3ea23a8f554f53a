// A control request (SPEC §5): a JSON file in control/ such as {"action": "cancel", "id": "X"}.
// Decoded as strictly as job files: unknown fields and wrong types are errors naming the field.
import SpoolJSON

public struct ControlRequest: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        case cancel, pause, resume, retry, delete
    }

    public var action: Action
    public var id: JobID
    /// retry: only the failed or skipped operations of a batch.
    public var failedOnly = false
    /// retry: the id of the new job (spoolctl picks it so it can print it); generated if absent.
    public var newID: JobID?

    public init(action: Action, id: JobID, failedOnly: Bool = false, newID: JobID? = nil) {
        self.action = action
        self.id = id
        self.failedOnly = failedOnly
        self.newID = newID
    }

    /// Parses a control file; the error names the file and the field.
    public static func parse(_ bytes: [UInt8], file: String) -> Result<ControlRequest, SpoolError> {
        let value: JSONValue
        do {
            value = try JSONParser(maxDepth: 8).parse(bytes)
        } catch {
            return .failure(SpoolError(.invalidJSON, "\(file): not valid JSON: \(error)"))
        }
        guard case .object(let o) = value else {
            return .failure(SpoolError(.invalidJob, "\(file): a control request must be a JSON object"))
        }
        let allowed = ["action", "id", "failed_only", "new_id"]
        if let bad = o.keys.first(where: { !allowed.contains($0) }) {
            return .failure(SpoolError(.invalidJob, "\(file): unknown field \"\(bad)\" (allowed: \(allowed.joined(separator: ", ")))"))
        }
        guard case .string(let a)? = o["action"], let action = Action(rawValue: a) else {
            return .failure(SpoolError(.invalidJob, "\(file): field \"action\" must be one of \(Action.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        guard case .string(let s)? = o["id"], let id = JobID(s) else {
            return .failure(SpoolError(.invalidJob, "\(file): field \"id\" must be a job id"))
        }
        var r = ControlRequest(action: action, id: id)
        if let f = o["failed_only"] {
            guard case .bool(let b) = f, action == .retry else {
                return .failure(SpoolError(.invalidJob, "\(file): field \"failed_only\" must be true or false, and only with \"retry\""))
            }
            r.failedOnly = b
        }
        if let n = o["new_id"] {
            guard case .string(let s) = n, let nid = JobID(s), action == .retry else {
                return .failure(SpoolError(.invalidJob, "\(file): field \"new_id\" must be a job id, and only with \"retry\""))
            }
            r.newID = nid
        }
        return .success(r)
    }

    /// The request as a file's bytes.
    public func encoded() -> [UInt8] {
        var o = JSONObject([("action", .string(action.rawValue)), ("id", .string(id.rawValue))])
        if failedOnly { o["failed_only"] = .bool(true) }
        if let newID { o["new_id"] = .string(newID.rawValue) }
        return Array(JSONValue.object(o).serialized().utf8) + [0x0A]
    }
}
