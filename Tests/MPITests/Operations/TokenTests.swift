// Tests of Token.swift: tokens as ordering witnesses, and autoTokenize in both forms.
import MPI
import MPITestSupport
import XCTest

final class TokenTests: MPITestCase {
    private var left: Int { ringNeighbours(rank: rank, size: size).left }
    private var right: Int { ringNeighbours(rank: rank, size: size).right }

    func testANewTokenStartsAChain() {
        XCTAssertEqual(Token().sequence, 0)
        XCTAssertEqual(Token(), Token())
        XCTAssertEqual(Token().description, "Token(sequence: 0)")
        XCTAssertEqual(Set([Token(), Token()]).count, 1)
    }

    /// Every primitive, given the previous token, returns one whose sequence is one more.
    func testEveryPrimitiveAdvancesTheTokenItIsGiven() throws {
        var token = Token()
        var expected = 0
        func step(_ next: Token, _ name: String) {
            expected += 1
            XCTAssertEqual(next.sequence, expected, name)
            token = next
        }
        step(try barrier(token: token), "barrier")
        step(try allgather(1.0, token: token).1, "allgather")
        step(try allreduce([rank], op: .sum, token: token).1, "allreduce")
        step(try alltoall(Array(0..<size), token: token).1, "alltoall")
        step(try bcast(ShapedArray([rank]), root: 0, token: token).1, "bcast")
        step(try gather(Float(rank), root: 0, token: token).1, "gather")
        step(try reduce(rank, op: .max, root: size - 1, token: token).1, "reduce")
        step(try scan(ShapedArray(scalar: rank), op: .sum, token: token).1, "scan")
        step(try scatter(ShapedArray(repeating: 1, shape: rank == 0 ? [size] : []), root: 0, token: token).1, "scatter")
        if canSendAroundARing(of: size) {
            step(try send(rank, dest: right, tag: 70, token: token), "send")
            step(try recv(0, source: left, tag: 70, token: token).1, "recv")
        }
        step(try sendrecv(rank, 0, source: left, dest: right, token: token).1, "sendrecv")
        let total = canSendAroundARing(of: size) ? 12 : 10
        XCTAssertEqual(token.sequence, total)
        XCTAssertEqual(token.description, "Token(sequence: \(total))")
    }

    func testWithoutATokenEachPrimitiveReturnsTheFirstOfANewChain() throws {
        XCTAssertEqual(try barrier().sequence, 1)
        XCTAssertEqual(try allreduce(1, op: .sum).1.sequence, 1)
        XCTAssertEqual(try allreduce(1, op: .sum).1.sequence, 1)
        // A token from one chain can be passed along any other operation.
        let (_, t) = try allreduce(1, op: .sum)
        let (_, t2) = try bcast(2, root: 0, token: t)
        XCTAssertEqual(t2.sequence, 2)
        XCTAssertEqual(try barrier(token: t).sequence, 2, "the same token given twice gives the same successor")
    }

    // MARK: autoTokenize, closure form

    func testAutoTokenizeThreadsTokensInProgramOrder() throws {
        let x = ShapedArray(repeating: 1.0, shape: [3, 2])
        let (result, last) = try autoTokenize { () throws(MPIError) -> (ShapedArray<Double>, [Int]) in
            let (a, t1) = try allreduce(x, op: .sum)
            let (b, t2) = try allreduce(a, op: .sum)
            let t3 = try barrier()
            let t4 = try sendrecv(rank, 0, source: left, dest: right).1
            var tokens = [t1, t2, t3, t4]
            if canSendAroundARing(of: size) {
                tokens.append(try send(rank, dest: right, tag: 71))
                tokens.append(try recv(0, source: left, tag: 71).1)
            }
            return (b, tokens.map(\.sequence))
        }
        let count = canSendAroundARing(of: size) ? 6 : 4
        XCTAssertEqual(result.0, ShapedArray(repeating: Double(size * size), shape: [3, 2]))
        XCTAssertEqual(result.1, Array(1...count))
        XCTAssertEqual(last.sequence, count)
        // Outside the scope, a primitive without a token starts a new chain again.
        XCTAssertEqual(try barrier().sequence, 1)
    }

    func testAutoTokenizeReachesThroughNestedFunctions() throws {
        func inner() throws(MPIError) -> Int {
            let (_, t) = try allreduce(1, op: .sum)
            return t.sequence
        }
        func outer() throws(MPIError) -> [Int] {
            let first = try inner()
            let second = try barrier().sequence
            let third = try inner()
            return [first, second, third]
        }
        let (sequences, last) = try autoTokenize { () throws(MPIError) -> [Int] in try outer() }
        XCTAssertEqual(sequences, [1, 2, 3])
        XCTAssertEqual(last.sequence, 3)
    }

    func testAutoTokenizeOverridesAnExplicitToken() throws {
        // mpi4jax: "This transform overrides all mpi4jax token management completely."
        let (sequences, last) = try autoTokenize { () throws(MPIError) -> [Int] in
            let t1 = try barrier()
            let t2 = try barrier(token: Token())          // a new chain's token: ignored
            let t3 = try allreduce(1.0, op: .sum, token: t1).1   // an old token of the chain: ignored
            let t4 = try barrier()
            return [t1.sequence, t2.sequence, t3.sequence, t4.sequence]
        }
        XCTAssertEqual(sequences, [1, 2, 3, 4])
        XCTAssertEqual(last.sequence, 4)
        // Outside the scope, an explicit token is followed again.
        XCTAssertEqual(try barrier(token: last).sequence, 5)
    }

    func testNestedAutoTokenizeContinuesTheOuterChain() throws {
        let ((inner, innerLast, after), outerLast) = try autoTokenize { () throws(MPIError) -> ([Int], Int, Int) in
            _ = try barrier()
            let (innerSequences, innerLast) = try autoTokenize { () throws(MPIError) -> [Int] in
                [try barrier().sequence, try barrier().sequence]
            }
            let after = try barrier().sequence
            return (innerSequences, innerLast.sequence, after)
        }
        XCTAssertEqual(inner, [2, 3])
        XCTAssertEqual(innerLast, 3)
        XCTAssertEqual(after, 4)
        XCTAssertEqual(outerLast.sequence, 4)
        // The transform form nested in a scope joins its chain too.
        let f = autoTokenize { (root: Int) throws -> Int in try bcast(0, root: root).1.sequence }
        let (sequences, last) = try autoTokenize { () throws -> [Int] in
            [try barrier().sequence, try f(0), try f(size - 1), try barrier().sequence]
        }
        XCTAssertEqual(sequences, [1, 2, 3, 4])
        XCTAssertEqual(last.sequence, 4)
    }

    func testAutoTokenizeWithoutOperationsReturnsTheStartToken() {
        let (value, last) = autoTokenize { 42 }
        XCTAssertEqual(value, 42)
        XCTAssertEqual(last.sequence, 0)
    }

    func testAutoTokenizePassesErrorsOn() {
        assertThrows(.rankOutOfRange(operation: "bcast", argument: "root", rank: size, size: size)) {
            try autoTokenize { () throws(MPIError) -> Double in try bcast(1.0, root: size).0 }
        }
    }

    // MARK: autoTokenize, function-transform form

    func testAutoTokenizeTransformsAFunction() throws {
        // The example of mpi4jax's auto_tokenize: two chained allreduces.
        let f = autoTokenize { (a: ShapedArray<Double>) throws -> (ShapedArray<Double>, [Int]) in
            let (res, t1) = try allreduce(a, op: .sum)
            let (res2, t2) = try allreduce(res, op: .sum)
            return (res2, [t1.sequence, t2.sequence])
        }
        let arr = ShapedArray(repeating: 1.0, shape: [3, 2])
        let (res, sequences) = try f(arr)
        XCTAssertEqual(res, ShapedArray(repeating: Double(size * size), shape: [3, 2]))
        XCTAssertEqual(sequences, [1, 2])
        // Each call has a chain of its own.
        XCTAssertEqual(try f(arr).1, [1, 2])
    }

    func testAutoTokenizeTransformsAFunctionOfTwoArguments() throws {
        let g = autoTokenize { (x: Int, root: Int) throws -> [Int] in
            let (b, t1) = try bcast(x, root: root)
            let (s, t2) = try allreduce(b, op: .sum)
            return [s, t1.sequence, t2.sequence]
        }
        for root in 0..<size {
            XCTAssertEqual(try g(rank * 10, root), [root * 10 * size, 1, 2], "root \(root) \(here)")
        }
    }

    /// mpi4jax's `auto_tokenize(f)(x)` in one expression, with a named `throws(MPIError)` function
    /// (neither compiled with the variadic form, which the compiler could not call at once and
    /// could not reabstract for a typed-throws closure).
    func testATransformedFunctionIsCalledAtOnceAndKeepsItsErrorType() throws {
        func f(_ a: ShapedArray<Double>) throws(MPIError) -> ShapedArray<Double> {
            let (res, _) = try allreduce(a, op: .sum)
            return try allreduce(res, op: .sum).0
        }
        let arr = ShapedArray(repeating: 1.0, shape: [3, 2])
        XCTAssertEqual(try autoTokenize(f)(arr), ShapedArray(repeating: Double(size * size), shape: [3, 2]))
        let typed = autoTokenize { (root: Int) throws(MPIError) -> Int in try bcast(7, root: root).1.sequence }
        do {
            _ = try typed(size)
            XCTFail("expected an error")
        } catch {
            let mpiError: MPIError = error  // the typed error, no cast
            XCTAssertEqual(mpiError, .rankOutOfRange(operation: "bcast", argument: "root", rank: size, size: size))
        }
        XCTAssertEqual(try typed(0), 1)
    }

    func testFunctionsOfUpToFourArgumentsAreTransformed() throws {
        func sequences(_ values: Int...) throws(MPIError) -> [Int] {
            try values.map { (v) throws(MPIError) -> Int in try allreduce(v, op: .sum).1.sequence }
        }
        XCTAssertEqual(try autoTokenize { (a: Int, b: Int, c: Int) throws(MPIError) in try sequences(a, b, c) }(1, 2, 3),
                       [1, 2, 3])
        XCTAssertEqual(try autoTokenize { (a: Int, b: Int, c: Int, d: Int) throws(MPIError) in
            try sequences(a, b, c, d) }(1, 2, 3, 4), [1, 2, 3, 4])
        // Functions that do not throw give functions that do not (and run in a scope too).
        // (Two steps of the chain: 1 + 2 inside a scope, 1 + 1 outside.)
        func twoSteps(_ x: Int) -> Int {
            x + ((try? barrier())?.sequence ?? -100) + ((try? barrier())?.sequence ?? -100)
        }
        let one: (Int) -> Int = autoTokenize(twoSteps)
        XCTAssertEqual(one(10), 13)
        XCTAssertEqual(twoSteps(10), 12)
        let four: (Int, Int, Int, Int) -> Int = autoTokenize { (a: Int, b: Int, c: Int, d: Int) -> Int in a + b + c + d }
        XCTAssertEqual(four(1, 2, 3, 4), 10)
    }

    func testATransformedFunctionThrowsTheErrorOfItsBody() {
        let h = autoTokenize { (root: Int) throws -> Double in try bcast(1.0, root: root).0 }
        do {
            _ = try h(-1)
            XCTFail("expected an error")
        } catch let error as MPIError {
            XCTAssertEqual(error, .rankOutOfRange(operation: "bcast", argument: "root", rank: -1, size: size))
        } catch {
            XCTFail("expected an MPIError, got \(error)")
        }
    }
}
