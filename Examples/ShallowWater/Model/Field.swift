// A 2-D field on one rank's subdomain, with a one-cell halo, in one contiguous array.

/// A field on a rectangular grid of `nx` × `ny` interior cells surrounded by a
/// one-cell halo, stored row-major in one contiguous `[Double]`.
///
/// Row `j` runs from 0 (the southern halo row) to `ny + 1` (the northern halo row);
/// column `i` from 0 (western halo) to `nx + 1` (eastern halo). The interior is
/// `1...ny` × `1...nx`. On the Arakawa C grid of the model, `h` lives at cell centres,
/// `u[j, i]` on the eastern face of cell (j, i) and `v[j, i]` on its northern face.
public struct Field: Sendable, Equatable {
    /// Interior cells in x.
    public let nx: Int
    /// Interior cells in y.
    public let ny: Int
    /// The values, `(ny + 2) * (nx + 2)` of them, row-major, halo included.
    public var values: [Double]

    /// A field with every cell, halo included, set to `value`.
    public init(nx: Int, ny: Int, repeating value: Double = 0) {
        precondition(nx >= 1 && ny >= 1, "a field needs at least one interior cell")
        self.nx = nx
        self.ny = ny
        values = [Double](repeating: value, count: (nx + 2) * (ny + 2))
    }

    /// Distance in the array between vertically adjacent cells: `nx + 2`.
    @inlinable public var rowStride: Int { nx + 2 }

    /// The array index of cell (j, i); `j` in `0...ny + 1`, `i` in `0...nx + 1`.
    @inlinable public func index(_ j: Int, _ i: Int) -> Int { j * (nx + 2) + i }

    /// The value at row `j`, column `i` (halo indices included).
    @inlinable public subscript(j: Int, i: Int) -> Double {
        get { values[j * (nx + 2) + i] }
        set { values[j * (nx + 2) + i] = newValue }
    }

    /// The interior values, row-major from the southern row, `ny * nx` of them.
    public var interior: [Double] {
        var result = [Double]()
        result.reserveCapacity(nx * ny)
        for j in 1...ny {
            let start = index(j, 1)
            result.append(contentsOf: values[start..<start + nx])
        }
        return result
    }

    /// Replaces the interior with `interior` (row-major from the southern row,
    /// `ny * nx` values); the halo is left as it is.
    public mutating func setInterior(_ interior: [Double]) {
        precondition(interior.count == nx * ny, "expected \(nx * ny) interior values, got \(interior.count)")
        for j in 1...ny {
            let start = index(j, 1)
            values.replaceSubrange(start..<start + nx, with: interior[(j - 1) * nx..<j * nx])
        }
    }
}
