// The scalar types through which communication can be differentiated.

import MPI
import _Differentiation

/// A scalar type through which swift-mpi's communication can be differentiated:
/// `Float` and `Double`.
///
/// The conforming types are their own tangent vectors. ``MPI/ShapedArray`` is
/// `Differentiable` when its scalars conform, and the differentiable forms of
/// the primitives in ``Autodiff`` take arrays of these types.
public protocol DifferentiableMPIScalar: MPIScalar, BinaryFloatingPoint, Differentiable
where TangentVector == Self {}

extension Float: DifferentiableMPIScalar {}
extension Double: DifferentiableMPIScalar {}
