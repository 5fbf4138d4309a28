import Foundation
import Native

#if canImport(Glibc)
import Glibc
#endif

/// The fault steps of a run in time order: each is applied at its phase's start plus its `at`, and
/// undone at its phase's end. Keeps a record of both for the journal and the explanation windows.
struct Timeline {
    private struct Entry {
        var phase: Phase
        var step: Step
        var applyAt: Double
        var undoAt: Double
        var applied = false
        var undone = false
        /// What undoes it, known once applied (a behaviour's id comes back from FakeUpstream).
        var undo: (method: String, path: String, body: String?, chaos: Bool)?
        /// An App signal step: the App signalled and what followed, watched until a new App is ready.
        var restart: Observations.AppRestart?
        var lastLook = 0.0
    }

    private var entries: [Entry]
    private(set) var records: [RunReport.StepRecord]
    /// The `Retry-After` each FakeUpstream behaviour of this run scripted, by behaviour id.
    private(set) var retryAfter: [String: String] = [:]

    init(scenario: Scenario) {
        self.entries = scenario.phases.flatMap { phase in
            phase.steps.map { Entry(phase: phase, step: $0, applyAt: phase.start + $0.at, undoAt: phase.end) }
        }
        .sorted { $0.applyAt < $1.applyAt }
        self.records = self.entries.map {
            .init(
                phase: $0.phase.name,
                summary: $0.step.summary,
                appliedAt: nil,
                applied: "pending",
                undoneAt: nil,
                undone: "pending"
            )
        }
    }

    /// When the next step is due to be applied or undone (or a restart looked at again).
    var nextTime: Double? {
        self.entries.compactMap { entry in
            if !entry.applied { return entry.applyAt }
            if entry.undone { return nil }
            return entry.restart != nil ? min(entry.lastLook + Self.restartLook, entry.undoAt) : entry.undoAt
        }.min()
    }

    /// How often a restart is looked at: the App's readiness time is known to this much.
    static let restartLook = 0.1

    /// The faults applied now.
    var active: [String] {
        self.entries.filter { $0.applied && !$0.undone && ($0.undo != nil || $0.restart != nil) }.map(\.step.summary)
    }

    /// The App restarts this run's steps caused.
    var restarts: [Observations.AppRestart] { self.entries.compactMap(\.restart) }

    /// Applies and undoes every step due by `time`; a restart ends once the new App is ready.
    mutating func advance(to time: Double, target: Target) {
        for index in self.entries.indices {
            if !self.entries[index].applied && self.entries[index].applyAt <= time {
                self.apply(index, at: time, target: target)
            }
            guard self.entries[index].applied && !self.entries[index].undone else { continue }
            if self.entries[index].restart != nil && time >= self.entries[index].lastLook + Self.restartLook {
                self.entries[index].lastLook = time
                if self.lookAtRestart(index, at: time, target: target) { continue }
            }
            if self.entries[index].undoAt <= time {
                self.undo(index, at: time, target: target)
            }
        }
    }

    /// Undoes every applied step not undone yet; the records of those it undid.
    @discardableResult
    mutating func undoAll(at time: Double?, target: Target) -> [RunReport.StepRecord] {
        var undone: [RunReport.StepRecord] = []
        for index in self.entries.indices where self.entries[index].applied && !self.entries[index].undone {
            self.undo(index, at: time, target: target)
            undone.append(self.records[index])
        }
        return undone
    }

    /// The explanation windows: each applied fault from when it was applied to when it was undone.
    var windows: [Explainer.Window] {
        self.entries.indices.compactMap { index in
            guard let from = self.records[index].appliedAt, self.records[index].applied == "ok" else { return nil }
            let until = self.records[index].undoneAt ?? self.entries[index].undoAt
            // Which journal shows the fault acting; a disabled proxy refuses without deciding.
            let source: String
            switch self.entries[index].step.action {
            case .toxic(let proxy, _, _): source = "chaos:\(proxy)"
            case .disableProxy, .app: source = ""
            case .upstream: source = "upstream"
            }
            return .init(
                summary: self.records[index].summary,
                from: from,
                until: until,
                source: source,
                silent: source.isEmpty
            )
        }
    }

    private mutating func apply(_ index: Int, at time: Double, target: Target) {
        self.entries[index].applied = true
        self.records[index].appliedAt = time
        do {
            switch self.entries[index].step.action {
            case .toxic(let proxy, let json, let name):
                try target.chaos("POST", "/proxies/\(proxy)/toxics", json)
                self.entries[index].undo = ("DELETE", "/proxies/\(proxy)/toxics/\(name)", nil, true)
            case .disableProxy(let proxy, let reset):
                self.entries[index].undo = ("POST", "/proxies/\(proxy)", "{\"enabled\":true}", true)
                if reset { try target.chaos("DELETE", "/proxies/\(proxy)/connections") }
                try target.chaos("POST", "/proxies/\(proxy)", "{\"enabled\":false}")
            case .app(let signal):
                guard let lab = target.lab else { throw RunFailure(Self.needsLocalLab) }
                guard let pid = try lab.appPID() else { throw RunFailure("the lab runs no App to signal") }
                guard kill(pid, signal == "SIGKILL" ? SIGKILL : SIGTERM) == 0 else {
                    throw RunFailure("cannot signal the App (pid \(pid)): \(String(cString: strerror(errno)))")
                }
                self.entries[index].restart = .init(signal: signal, pid: pid, at: time)
                self.entries[index].lastLook = time
            case .upstream(let json):
                let created = target.json(try target.upstreamAdmin("POST", "/behaviors", json))
                guard let id = created["id"] as? String else {
                    throw RunFailure("FakeUpstream returned no behaviour id")
                }
                self.entries[index].undo = ("DELETE", "/behaviors/\(id)", nil, false)
                let headers = (created["action"] as? [String: Any])?["headers"] as? [String: String] ?? [:]
                if let value = headers.first(where: { $0.key.lowercased() == "retry-after" })?.value {
                    self.retryAfter[id] = value
                }
            }
            self.records[index].applied = "ok"
        } catch {
            self.records[index].applied = "\(error)"
        }
    }

    /// Why a scenario with `app` steps cannot run against a target given by URLs alone.
    static let needsLocalLab =
        "`app` steps signal the App of a local lab: run without URLs, or pass --lab-state DIR of the `lab up` they name"

    /// Looks at a signalled App: has it exited, is a new one running, is that one ready? Ends the
    /// step when it is (true).
    private mutating func lookAtRestart(_ index: Int, at time: Double, target: Target) -> Bool {
        guard var restart = self.entries[index].restart, let lab = target.lab else { return false }
        defer { self.entries[index].restart = restart }
        if restart.exitStatus == nil { restart.exitStatus = try? lab.exitStatus(of: restart.pid) }
        if restart.newPID == nil, restart.exitStatus != nil, let now = try? lab.appPID(), now != restart.pid {
            restart.newPID = now
        }
        guard restart.newPID != nil, (try? target.get("/readyz"))?.status == 200 else { return false }
        restart.readyAt = time
        self.entries[index].undone = true
        self.records[index].undoneAt = time
        self.records[index].undone = "ok"
        return true
    }

    private mutating func undo(_ index: Int, at time: Double?, target: Target) {
        if self.entries[index].restart != nil {
            // The phase ends before the new App is ready: wait for it, up to a minute more.
            let deadline = Date().addingTimeInterval(60)
            let started = Date()
            while Date() < deadline {
                let waited = Date().timeIntervalSince(started)
                if self.lookAtRestart(index, at: (time ?? self.entries[index].undoAt) + waited, target: target) {
                    return
                }
                Thread.sleep(forTimeInterval: Self.restartLook)
            }
            self.entries[index].undone = true
            self.records[index].undoneAt = time
            self.records[index].undone = "no new App was ready within 60 s of the phase's end"
            return
        }
        self.entries[index].undone = true
        self.records[index].undoneAt = time
        guard let undo = self.entries[index].undo else {
            self.records[index].undone = "nothing to undo"
            return
        }
        do {
            if undo.chaos {
                try target.chaos(undo.method, undo.path, undo.body)
            } else {
                try target.upstreamAdmin(undo.method, undo.path, undo.body)
            }
            self.records[index].undone = "ok"
        } catch {
            self.records[index].undone = "\(error)"
        }
    }
}
