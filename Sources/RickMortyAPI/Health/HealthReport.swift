import JSONWriting

/// The `/healthcheck` body (docs/api.md, "Health"), computed from what the background checks saw.
struct HealthReport: Sendable {
    enum Status: String, Sendable { case ok, degraded, down }

    let database: HealthMonitor.DatabaseCheck
    let refresh: HealthMonitor.RefreshRecord
    let backend: String
    let upstreamOK: Bool
    /// Why the upstream is not ok (the last request's failure, or that none has finished); nil
    /// while it is.
    let upstreamError: String?
    let circuit: String
    let refreshTTL: Double
    let workerEnabled: Bool
    let now: Double

    var lastRefreshAge: Double? { self.database.state?.lastRefresh.map { max(0, self.now - $0) } }
    var isStale: Bool { self.lastRefreshAge.map { $0 > self.refreshTTL } ?? true }

    var status: Status {
        if !self.database.ok { return .down }
        if !self.upstreamOK || self.isStale { return .degraded }
        return .ok
    }

    func encoded() -> [UInt8] {
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        json.field("status", self.status.rawValue)
        json.field("upstream_ok", self.upstreamOK)
        json.field("db_ok", self.database.ok)
        json.field("character_count", self.database.state?.count ?? 0)
        json.key("last_refresh_age")
        self.optional(self.lastRefreshAge, &json)
        json.key("checks")
        json.beginObject()
        json.key("db")
        json.beginObject()
        json.field("ok", self.database.ok)
        json.field("backend", self.backend)
        json.key("checked_age_seconds")
        self.optional(self.database.checkedAt.map { max(0, self.now - $0) }, &json)
        json.field("error", self.database.error)
        json.endObject()
        json.key("upstream")
        json.beginObject()
        json.field("ok", self.upstreamOK)
        json.field("circuit", self.circuit)
        json.field("error", self.upstreamError)
        json.endObject()
        json.key("refresh")
        json.beginObject()
        json.field("worker_enabled", self.workerEnabled)
        json.key("last_refresh_age")
        self.optional(self.lastRefreshAge, &json)
        json.field("ttl_seconds", self.refreshTTL)
        json.field("stale", self.isStale)
        json.field("generation", Int(self.database.state?.generation ?? 0))
        json.field("last_result", self.refresh.lastResult?.rawValue)
        json.field("last_error", self.refresh.lastError)
        json.endObject()
        json.endObject()
        json.endObject()
        return json.bytes
    }

    private func optional(_ value: Double?, _ json: inout JSONWriter) {
        if let value { json.double((value * 1000).rounded() / 1000) } else { json.null() }
    }
}
