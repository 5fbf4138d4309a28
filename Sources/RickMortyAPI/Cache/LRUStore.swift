/// A fixed-capacity least-recently-used map: O(1) lookup, touch, insert and eviction, with the
/// recency list kept as indices into one array (no per-entry allocation).
struct LRUStore<Key: Hashable, Value> {
    private struct Node {
        var key: Key
        var value: Value
        var newer: Int?
        var older: Int?
    }

    let capacity: Int
    private var nodes: [Node] = []
    private var index: [Key: Int] = [:]
    private var newest: Int?
    private var oldest: Int?
    private var free: [Int] = []

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    var count: Int { self.index.count }

    /// The value for `key`, marking it most recently used.
    mutating func get(_ key: Key) -> Value? {
        guard let slot = self.index[key] else { return nil }
        self.moveToFront(slot)
        return self.nodes[slot].value
    }

    /// Inserts or replaces `key`; returns the key evicted to make room, if any.
    @discardableResult
    mutating func set(_ key: Key, _ value: Value) -> Key? {
        guard self.capacity > 0 else { return nil }
        if let slot = self.index[key] {
            self.nodes[slot].value = value
            self.moveToFront(slot)
            return nil
        }
        var evicted: Key?
        if self.index.count >= self.capacity, let last = self.oldest {
            evicted = self.nodes[last].key
            self.remove(slot: last)
        }
        let node = Node(key: key, value: value, newer: nil, older: self.newest)
        let slot: Int
        if let reused = self.free.popLast() {
            self.nodes[reused] = node
            slot = reused
        } else {
            self.nodes.append(node)
            slot = self.nodes.count - 1
        }
        if let newest = self.newest { self.nodes[newest].newer = slot }
        self.newest = slot
        if self.oldest == nil { self.oldest = slot }
        self.index[key] = slot
        return evicted
    }

    /// Removes `key` if present.
    mutating func removeValue(forKey key: Key) {
        if let slot = self.index[key] { self.remove(slot: slot) }
    }

    /// Removes every entry whose key fails `keep`.
    mutating func removeAll(where shouldRemove: (Key) -> Bool) {
        for (key, slot) in self.index where shouldRemove(key) { self.remove(slot: slot) }
    }

    private mutating func remove(slot: Int) {
        self.unlink(slot)
        self.index[self.nodes[slot].key] = nil
        self.free.append(slot)
    }

    private mutating func moveToFront(_ slot: Int) {
        guard self.newest != slot else { return }
        self.unlink(slot)
        self.nodes[slot].older = self.newest
        self.nodes[slot].newer = nil
        if let newest = self.newest { self.nodes[newest].newer = slot }
        self.newest = slot
        if self.oldest == nil { self.oldest = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let node = self.nodes[slot]
        if let newer = node.newer { self.nodes[newer].older = node.older } else { self.newest = node.older }
        if let older = node.older { self.nodes[older].newer = node.newer } else { self.oldest = node.newer }
        self.nodes[slot].newer = nil
        self.nodes[slot].older = nil
    }
}
