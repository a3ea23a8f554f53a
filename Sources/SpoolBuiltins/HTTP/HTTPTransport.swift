// Runs one URLSession data task synchronously: `run` is called on a daemon worker thread, so it
// blocks on a semaphore until the task completes, the overall timeout passes, or more than
// `limit` body bytes have arrived (the transfer is then cancelled and the body marked truncated).
//
// The caller must not be a libdispatch worker thread. FoundationNetworking drives libcurl from
// libdispatch queues (the multi handle's socket and timer sources, the delegate queue), and on
// Linux libdispatch creates workers beyond the number of cores only from a monitor that runs about
// once a second. With every worker blocked in this wait, each transfer stalled until the monitor
// added a thread: two calls at once on 2 cores took 1.0 s each instead of a millisecond. The daemon
// runs built-ins on threads of their own for that reason.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What came back from the server.
struct HTTPExchange: Sendable {
    var status: Int
    /// Header names lowercased, sorted by name.
    var headers: [(name: String, value: String)]
    var body: Data
    var truncated: Bool
}

enum HTTPTransport {
    /// Performs `request`; `label` ("http GET <url>") starts every error message.
    static func perform(_ request: URLRequest, timeout: Double, limit: Int, label: String) throws(BuiltinError) -> HTTPExchange {
        // FoundationNetworking rounds its timeouts down to whole seconds (0.5 s expires at once), so the
        // session only gets a backstop and the exact limit is the semaphore wait below.
        let backstop = (timeout + 1).rounded(.up)
        var request = request
        request.timeoutInterval = backstop
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = backstop
        configuration.timeoutIntervalForResource = backstop
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        let collector = ResponseCollector(limit: limit)
        let session = URLSession(configuration: configuration, delegate: collector, delegateQueue: nil)
        let task = session.dataTask(with: request)
        task.resume()
        session.finishTasksAndInvalidate()

        let timedOut = BuiltinError("\(label) timed out after \(formatNumber(timeout)) seconds")
        guard collector.done.wait(timeout: .now() + timeout) == .success else {
            task.cancel()
            throw timedOut
        }
        let outcome = collector.outcome()
        if let error = outcome.error, !outcome.truncated {
            if (error as? URLError)?.code == .timedOut { throw timedOut }
            throw BuiltinError("\(label) failed: \(describe(error))")
        }
        guard let response = outcome.response else {
            throw BuiltinError("\(label) failed: no HTTP response")
        }
        return HTTPExchange(status: response.statusCode, headers: headers(of: response),
                            body: outcome.data, truncated: outcome.truncated)
    }

    static func headers(of response: HTTPURLResponse) -> [(name: String, value: String)] {
        var merged: [String: String] = [:]
        for (key, value) in response.allHeaderFields {
            guard let name = (key as? String)?.lowercased() else { continue }
            let text = (value as? String) ?? "\(value)"
            merged[name] = merged[name].map { "\($0), \(text)" } ?? text
        }
        return merged.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
    }

    static func describe(_ error: any Error) -> String {
        guard let urlError = error as? URLError else { return "\(error.localizedDescription)" }
        let reason: String
        switch urlError.code {
        case .cannotConnectToHost: reason = "could not connect to the host (connection refused)"
        case .cannotFindHost, .dnsLookupFailed: reason = "the host name could not be resolved"
        case .networkConnectionLost: reason = "the connection was lost"
        case .notConnectedToInternet: reason = "the network is unreachable"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            reason = "the TLS connection failed"
        case .badServerResponse: reason = "the server sent an invalid response"
        case .httpTooManyRedirects: reason = "too many redirects"
        default: reason = urlError.localizedDescription
        }
        return "\(reason) (URLError \(urlError.code.rawValue))"
    }
}

/// URLSession delegate that keeps at most `limit` body bytes and signals `done` on completion.
/// Its state is guarded by a lock, since URLSession calls it on its own queue.
final class ResponseCollector: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    private let limit: Int
    private let lock = NSLock()
    private var data = Data()
    private var truncated = false
    private var response: HTTPURLResponse?
    private var error: (any Error)?

    init(limit: Int) {
        self.limit = limit
    }

    func outcome() -> (response: HTTPURLResponse?, data: Data, truncated: Bool, error: (any Error)?) {
        lock.withLock { (response, data, truncated, error) }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        lock.withLock { self.response = response as? HTTPURLResponse }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let full: Bool = lock.withLock {
            let room = limit - self.data.count
            if data.count > room {
                self.data.append(data.prefix(max(room, 0)))
                truncated = true
                return true
            }
            self.data.append(data)
            return false
        }
        if full { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        lock.withLock {
            if self.response == nil { self.response = task.response as? HTTPURLResponse }
            self.error = error
        }
        done.signal()
    }
}
