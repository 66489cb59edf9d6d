import Dispatch
import Synchronization

/// A buffer that the iterations of one `Parallel.forEach` write at once, each iteration to elements no other one
/// reads or writes.
///
/// `@unchecked Sendable`: an unsafe buffer is not `Sendable`, and sharing one is safe only under the rule its users
/// keep: the elements each iteration touches are its own, and the buffer outlives the iterations
/// (`DispatchQueue.concurrentPerform` returns only after every iteration has ended).
struct SharedBuffer<Element>: @unchecked Sendable {
    /// The shared elements.
    let elements: UnsafeMutableBufferPointer<Element>

    /// The buffer over `elements`.
    init(_ elements: UnsafeMutableBufferPointer<Element>) { self.elements = elements }

    /// Element `index`.
    @inline(__always)
    subscript(index: Int) -> Element {
        get { elements[index] }
        nonmutating set { elements[index] = newValue }
    }
}

/// Work spread over a few threads.
enum Parallel {
    /// Calls `body` with every index of `0..<count`, on up to `workers` threads that take the next index as they
    /// finish one, each thread with its own `State` (made by `state`, kept from index to index: its scratch buffers
    /// are allocated once per thread, not once per index); returns when every call has returned.
    static func forEach<State>(
        _ count: Int, workers: Int, state: @Sendable () -> State, _ body: @Sendable (inout State, Int) -> Void
    ) {
        guard count > 0 else { return }
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, count))) { _ in
            var own = state()
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < count else { return }
                body(&own, index)
            }
        }
    }

    /// Calls `body` with every index of `0..<count`, on up to `workers` threads that take the next index as they
    /// finish one; returns when every call has returned.
    static func forEach(_ count: Int, workers: Int, _ body: @Sendable (Int) -> Void) {
        guard count > 0 else { return }
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, count))) { _ in
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < count else { return }
                body(index)
            }
        }
    }
}
