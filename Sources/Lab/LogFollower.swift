import Foundation

/// Copies what a child appends to its log file to the lab's stdout (`tail -f`, polled), from
/// the file's end when it was created: what earlier labs wrote there is not repeated.
final class LogFollower {
    private let path: String
    private let start: UInt64
    private var handle: FileHandle?

    init(path: String) {
        self.path = path
        let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber
        self.start = size?.uint64Value ?? 0
    }

    /// Writes what the file gained since the last call.
    func copyNew() {
        if self.handle == nil, let handle = FileHandle(forReadingAtPath: self.path) {
            try? handle.seek(toOffset: self.start)
            self.handle = handle
        }
        guard let handle = self.handle, let data = try? handle.readToEnd(), !data.isEmpty else { return }
        FileHandle.standardOutput.write(data)
    }
}
