// The module DifferentiableMPI: swift-mpi's communication, differentiable.
//
// It re-exports MPI, so that `import DifferentiableMPI` brings the whole
// package, and _Differentiation, so that the same import brings `gradient`,
// `valueWithPullback`, `Differentiable` and `@differentiable`. The core module
// MPI does not import _Differentiation and builds on toolchains without it.
@_exported import MPI
@_exported import _Differentiation

// Differentiable communication.
//
// The convention is mpi4jax's: the differentiated quantity is one scalar,
// replicated on every rank, and every rank runs the same backward pass.
//
// * An output that is the same on every rank (allreduce, allgather, bcast)
//   carries a cotangent that is the same on every rank: the whole derivative of
//   the loss with respect to that output. Its pullback does not sum across
//   ranks; each rank takes the part of the cotangent that belongs to its input.
// * An output that differs between ranks (alltoall, gather, reduce, scan,
//   scatter, sendrecv) carries each rank's own cotangent, and its pullback is
//   the exact transpose of the distributed linear map, with communication.
// * `perRank` marks a replicated value that meets per-rank data; its pullback
//   sums the per-rank cotangents back into the whole derivative.
//
// The derivatives are registered on the functions of `Autodiff`, which are the
// primitives without `throws` and without tokens. Two defects of Swift 6.3's
// differentiation transform rule out registering them on the throwing
// primitives themselves (see DifferentiableMPI.docc/Derivatives.md): a derivative of a
// generic function that returns `(ShapedArray<T>, Token)` crashes the compiler,
// and calling a throwing differentiable function whose tangent is a struct of
// arrays miscompiles in debug builds (a use after free or a compiler crash).
// So `Autodiff` stops the process with a clear message where the primitives
// would throw.
//
// Access: the reverse derivatives (`vjpAllreduce`, ..., and those of the local
// operations of ShapedArray) are only called by the compiler, so they are
// internal. A derivative of a public function must be visible to clients that
// differentiate it: the compiler rejects an internal one ("derivative function
// must have same access level as original function") unless it is
// `@usableFromInline` (or `@inlinable`), the lowest access it accepts. The
// forward derivatives (`jvpAllreduce`, ...) stay public: this toolchain cannot
// synthesise a forward derivative of a closure, so calling them, or composing
// them into a registered forward derivative, is how a user gets forward mode.

// MARK: - The namespace

/// The differentiable forms of the communication primitives.
///
/// Each function here is the primitive of the same name, differentiable with
/// respect to its data argument, in reverse mode (`gradient(at:of:)`,
/// `valueWithPullback(at:of:)`) and forward mode (the public forward
/// derivatives `jvpAllreduce(_:op:comm:)` and so on, or `valueWithDifferential(at:of:)`
/// on a function whose forward derivative is registered; see
/// <doc:Derivatives>). They take no token and return no token, and they
/// do not throw: an error that the primitive would throw (a bad root, a wrong
/// shape, an MPI failure) stops the process with a message that names the
/// operation and the rank. Call them on every rank in the same order, as any
/// collective.
///
/// ```swift
/// import DifferentiableMPI   // brings MPI and _Differentiation too
///
/// let x = ShapedArray<Double>([1, 2, 3])
/// let g = gradient(at: x) { x in Autodiff.allreduce(x, op: .sum).sum() }
/// // g is [1.0, 1.0, 1.0] on every rank, whatever the number of ranks.
/// ```
///
/// The rules, derived from the convention that the differentiated quantity is
/// one scalar replicated on every rank:
///
/// | primitive | JVP | VJP | communication in the pullback |
/// |---|---|---|---|
/// | `allreduce` `.sum` | allreduce of the tangent | identity | none |
/// | `allreduce` `.max`, `.min` | allreduce-sum of the owner's tangent | cotangent on the owner of the extreme (lowest rank on ties), zero elsewhere | allreduce (min of ranks: each element's owner) |
/// | `allgather` | allgather of the tangent | this rank's block of the cotangent | none |
/// | `alltoall` | alltoall of the tangent | alltoall of the cotangent | alltoall |
/// | `bcast` | bcast of the tangent | the cotangent on the root, zero elsewhere | none |
/// | `gather` | gather of the tangent | scatter of the root's cotangent, plus the own cotangent off the root | scatter |
/// | `reduce` `.sum` | reduce of the tangent | bcast of the root's cotangent, plus the own cotangent off the root | bcast |
/// | `scan` `.sum` | scan of the tangent | suffix sum of the cotangents over ranks | split + scan |
/// | `scatter` | scatter of the tangent | gather of the cotangents to the root, zero elsewhere | gather |
/// | `sendrecv` | sendrecv of the tangent | sendrecv with source and dest swapped | sendrecv |
/// | `allgatherv` | allgatherv of the tangent | this rank's block of the cotangent | none |
/// | `gatherv` | gatherv of the tangent | scatterv of the root's cotangent, plus the own cotangent off the root | scatterv |
/// | `scatterv` | scatterv of the tangent | gatherv of the cotangents to the root, zero elsewhere | gatherv |
/// | `alltoallv` | alltoallv of the tangent | alltoallv of the cotangent with the received counts | alltoallv |
/// | `reduceScatterBlock` `.sum` | reduceScatterBlock of the tangent | allgather of the cotangent | allgather |
/// | `reduceScatter` `.sum` | reduceScatter of the tangent | allgatherv of the cotangent | allgatherv |
/// | `exscan` `.sum` | exscan of the tangent | exclusive suffix sum of the cotangents over ranks | split + exscan |
/// | `neighborAllgather` (Cartesian grid) | neighborAllgather of the tangent | neighborAlltoall of the cotangent, summed over its rows | neighbour alltoall |
/// | `neighborAlltoall` (Cartesian grid) | neighborAlltoall of the tangent | neighborAlltoall of the cotangent | neighbour alltoall |
/// | `neighborAllgatherv` (Cartesian grid) | neighborAllgatherv of the tangent | each block of the cotangent back to its neighbour (neighborAlltoallv), summed | neighbour alltoallv |
/// | `neighborAlltoallv` (Cartesian grid) | neighborAlltoallv of the tangent | neighborAlltoallv of the cotangent, counts swapped | neighbour alltoallv |
/// | `perRank` | the tangent | allreduce-sum of the cotangent | allreduce |
public enum Autodiff {}
