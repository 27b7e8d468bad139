/// A witness of the order of MPI operations, the counterpart of mpi4jax's tokens.
///
/// In JAX, operations inside `jit` may be reordered unless a data dependency
/// forbids it, so mpi4jax threads a token from each operation into the next.
/// Swift runs operations eagerly, in program order, so order is already
/// guaranteed: a token here is a value that records it. Every primitive takes
/// an optional `token:` and returns a new token whose ``sequence`` is one more
/// than the one it was given (a primitive given no token starts from a new one).
/// Passing tokens is never required for correctness; keep them when porting
/// mpi4jax code, or use ``autoTokenize(_:)->(_,_)`` to thread them automatically.
public struct Token: Sendable, Hashable, CustomStringConvertible {
    /// How many operations have been ordered on this chain of tokens, this one's included.
    public let sequence: Int

    /// A new token, the start of a chain.
    @inlinable public init() { sequence = 0 }

    @inlinable init(sequence: Int) { self.sequence = sequence }

    /// The token returned by the operation that was given `self`.
    @inlinable func next() -> Token { Token(sequence: sequence &+ 1) }

    /// For example `Token(sequence: 3)`.
    public var description: String { "Token(sequence: \(sequence))" }
}

import Synchronization

/// The chain of tokens that ``autoTokenize(_:)`` threads through the operations in its scope.
///
/// Its sequence is atomic: a task started inside the scope inherits the chain (it is task-local)
/// and may run its operations on another thread at the same time as the scope's own.
final class TokenChain: Sendable {
    let sequence = Atomic<Int>(0)
    @TaskLocal static var active: TokenChain?

    /// The chain's next token, its sequence one more than the last one handed out.
    func next() -> Token { Token(sequence: sequence.wrappingAdd(1, ordering: .relaxed).newValue) }

    /// The last token handed out (the start token while there is none).
    var current: Token { Token(sequence: sequence.load(ordering: .relaxed)) }
}

/// The token an operation orders after: the automatic chain's, or the one given, or a new one.
///
/// Returns the operation's output token, and advances the automatic chain when
/// the operation takes part in one. Inside an ``autoTokenize(_:)->(_,_)`` scope every
/// operation takes part, whether or not it was given a token: like mpi4jax's
/// `auto_tokenize`, the scope overrides token management completely.
///
/// While no scope is open (``openTokenScopes`` is zero), this is one load and a
/// new token, inlined into the operation.
@inlinable
func advance(_ token: Token?) -> Token {
    if _fastPath(openTokenScopes.load(ordering: .relaxed) == 0) { return (token ?? Token()).next() }
    return advanceChain(token)
}

@usableFromInline
func advanceChain(_ token: Token?) -> Token {
    guard let chain = TokenChain.active else { return (token ?? Token()).next() }
    return chain.next()
}

/// How many ``autoTokenize(_:)->(_,_)`` scopes are running in the process. While it
/// is zero, an operation skips the task-local lookup.
@usableFromInline let openTokenScopes = Atomic<Int>(0)

/// Runs `body` with tokens managed automatically, the counterpart of mpi4jax's
/// `experimental.auto_tokenize`.
///
/// Inside `body`, every primitive orders itself after the previous one on one chain,
/// so the tokens they return form the sequence 1, 2, 3, … in program order, even
/// through nested functions. As in mpi4jax, the scope overrides token management
/// completely: a primitive given an explicit `token:` inside it is put on the chain
/// too (the token given is ignored), and a nested `autoTokenize` continues the chain
/// of the scope around it rather than starting one of its own.
///
/// ```swift
/// let (result, last) = try autoTokenize {
///     let (a, _) = try allreduce(x, op: .sum)      // token 1
///     let (b, _) = try allreduce(a, op: .sum)      // token 2
///     return b
/// }
/// // last.sequence == 2
/// ```
///
/// A task started inside the scope inherits its chain (the chain is task-local); the
/// operations of several such tasks share it, in the order in which they start.
///
/// - Returns: The value of `body` and the last token of the chain.
public func autoTokenize<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> (R, Token) {
    if let chain = TokenChain.active {
        // Nested: the outer scope's chain goes on through this one.
        return (try body(), chain.current)
    }
    let chain = TokenChain()
    var outcome: Result<R, E>!
    openTokenScopes.add(1, ordering: .relaxed)
    defer { openTokenScopes.subtract(1, ordering: .relaxed) }
    TokenChain.$active.withValue(chain) {
        do throws(E) { outcome = .success(try body()) } catch { outcome = .failure(error) }
    }
    return (try outcome.get(), chain.current)
}

/// Transforms a function of one argument so that the primitives it calls have their tokens
/// managed automatically, like mpi4jax's `auto_tokenize(f)`.
///
/// Each call of the returned function runs `function` inside ``autoTokenize(_:)->(_,_)``
/// and returns its result. The returned function throws what `function` throws, with the same
/// error type (a `throws(MPIError)` function gives a `throws(MPIError)` one), and it can be called
/// at once, as in mpi4jax:
///
/// ```swift
/// func f(_ x: ShapedArray<Double>) throws(MPIError) -> ShapedArray<Double> {
///     let (a, _) = try allreduce(x, op: .sum)
///     return try allreduce(a, op: .sum).0
/// }
/// let y = try autoTokenize(f)(x)   // mpi4jax: auto_tokenize(f)(x)
/// ```
///
/// Overloads take functions of up to four arguments, throwing or not; for more, transform a
/// function of a tuple or a struct, or use the block form, ``autoTokenize(_:)->(_,_)``, which is
/// also the form for a function of none (it runs at once and returns the last token too).
public func autoTokenize<A, R, E: Error>(
    _ function: @escaping (A) throws(E) -> R
) -> (A) throws(E) -> R {
    { (a: A) throws(E) -> R in try autoTokenize { () throws(E) -> R in try function(a) }.0 }
}

/// Transforms a function of one argument that does not throw like ``autoTokenize(_:)-7geg``.
///
/// (A separate overload: the throwing one with a non-throwing function crashes Swift 6.3's compiler.)
public func autoTokenize<A, R>(_ function: @escaping (A) -> R) -> (A) -> R {
    { (a: A) -> R in autoTokenize { () -> R in function(a) }.0 }
}

/// Transforms a throwing function of two arguments like ``autoTokenize(_:)-7geg``.
public func autoTokenize<A, B, R, E: Error>(
    _ function: @escaping (A, B) throws(E) -> R
) -> (A, B) throws(E) -> R {
    { (a: A, b: B) throws(E) -> R in try autoTokenize { () throws(E) -> R in try function(a, b) }.0 }
}

/// Transforms a function of two arguments that does not throw like ``autoTokenize(_:)-7geg``.
///
/// (A separate overload: the throwing one with a non-throwing function crashes Swift 6.3's compiler.)
public func autoTokenize<A, B, R>(_ function: @escaping (A, B) -> R) -> (A, B) -> R {
    { (a: A, b: B) -> R in autoTokenize { () -> R in function(a, b) }.0 }
}

/// Transforms a throwing function of three arguments like ``autoTokenize(_:)-7geg``.
public func autoTokenize<A, B, C, R, E: Error>(
    _ function: @escaping (A, B, C) throws(E) -> R
) -> (A, B, C) throws(E) -> R {
    { (a: A, b: B, c: C) throws(E) -> R in try autoTokenize { () throws(E) -> R in try function(a, b, c) }.0 }
}

/// Transforms a function of three arguments that does not throw like ``autoTokenize(_:)-7geg``.
///
/// (A separate overload: the throwing one with a non-throwing function crashes Swift 6.3's compiler.)
public func autoTokenize<A, B, C, R>(_ function: @escaping (A, B, C) -> R) -> (A, B, C) -> R {
    { (a: A, b: B, c: C) -> R in autoTokenize { () -> R in function(a, b, c) }.0 }
}

/// Transforms a throwing function of four arguments like ``autoTokenize(_:)-7geg``.
public func autoTokenize<A, B, C, D, R, E: Error>(
    _ function: @escaping (A, B, C, D) throws(E) -> R
) -> (A, B, C, D) throws(E) -> R {
    { (a: A, b: B, c: C, d: D) throws(E) -> R in try autoTokenize { () throws(E) -> R in try function(a, b, c, d) }.0 }
}

/// Transforms a function of four arguments that does not throw like ``autoTokenize(_:)-7geg``.
///
/// (A separate overload: the throwing one with a non-throwing function crashes Swift 6.3's compiler.)
public func autoTokenize<A, B, C, D, R>(_ function: @escaping (A, B, C, D) -> R) -> (A, B, C, D) -> R {
    { (a: A, b: B, c: C, d: D) -> R in autoTokenize { () -> R in function(a, b, c, d) }.0 }
}
