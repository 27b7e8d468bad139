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
final class TokenChain: @unchecked Sendable {
    var current = Token()
    @TaskLocal static var active: TokenChain?
}

/// The token an operation orders after: the one given, or the automatic chain's, or a new one.
///
/// Returns the operation's output token, and advances the automatic chain when
/// the operation takes part in one.
///
/// While no ``autoTokenize(_:)->(_,_)`` scope is open (``openTokenScopes`` is
/// zero), this is one load and a new token, inlined into the operation.
@inlinable
func advance(_ token: Token?) -> Token {
    if let token { return token.next() }
    if _fastPath(openTokenScopes.load(ordering: .relaxed) == 0) { return Token().next() }
    return advanceChain()
}

@usableFromInline
func advanceChain() -> Token {
    guard let chain = TokenChain.active else { return Token().next() }
    chain.current = chain.current.next()
    return chain.current
}

/// How many ``autoTokenize(_:)->(_,_)`` scopes are running in the process. While it
/// is zero, an operation without a token skips the task-local lookup.
@usableFromInline let openTokenScopes = Atomic<Int>(0)

/// Runs `body` with tokens managed automatically, the counterpart of mpi4jax's
/// `experimental.auto_tokenize`.
///
/// Inside `body`, every primitive called without a `token:` orders itself after
/// the previous one on one chain, so the tokens they return form the sequence
/// 1, 2, 3, … in program order, even through nested functions. A primitive
/// given an explicit token uses that token instead, as in mpi4jax.
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
/// - Returns: The value of `body` and the last token of the chain.
public func autoTokenize<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> (R, Token) {
    let chain = TokenChain()
    var outcome: Result<R, E>!
    openTokenScopes.add(1, ordering: .relaxed)
    defer { openTokenScopes.subtract(1, ordering: .relaxed) }
    TokenChain.$active.withValue(chain) {
        do throws(E) { outcome = .success(try body()) } catch { outcome = .failure(error) }
    }
    return (try outcome.get(), chain.current)
}

/// Transforms a function so that the primitives it calls have their tokens
/// managed automatically, like mpi4jax's `auto_tokenize(f)`.
///
/// Each call of the returned function runs `function` inside ``autoTokenize(_:)->(_,_)``
/// and returns its result.
public func autoTokenize<each Argument, R>(
    _ function: @escaping (repeat each Argument) throws -> R
) -> (repeat each Argument) throws -> R {
    return { (argument: repeat each Argument) throws -> R in
        try autoTokenize { () throws -> R in try function(repeat each argument) }.0
    }
}
