// Tests of point-to-point messaging under load: many messages of random sizes
// (0 to 32,768 elements of UInt64, so up to 256 KiB, across the eager limits of
// both libraries) and random tags, every one received from any source with any
// tag and checked. 20,000 messages in the suite, so that every launch ends well
// within Scripts/test's timeout of 120 s on a loaded 2-core machine (100,000 take
// 3 to 5 s in a debug build on Open MPI at 1 to 4 ranks when the machine is quiet,
// but 100 to 330 s on MPICH at 3 and 4 ranks, which polls without yielding when
// oversubscribed, and up to 90 s on Open MPI at 2 ranks under load); the full run:
//
//   SWIFT_MPI_TEST_STRESS_MESSAGES=100000 SWIFT_MPI_TEST_TIMEOUT=900 \
//     SWIFT_MPI_TEST_FILTER=MessageStress Scripts/test --mpi both
//
// The protocol, which every rank computes from one seeded generator (so every
// rank knows every message: sender, destination, size, tags):
// - The messages go in epochs. In each epoch every rank is either a sender or a
//   receiver (at least one of each); each sender sends 1 to 64 messages, each to
//   a random receiver. An epoch ends with a barrier on the test's communicator.
// - A message is two MPI messages: a header of 6 words (magic, sender, sequence
//   number, element count, payload tag, checksum of the payload) with a random
//   tag, then the payload with another random tag, sent back to back.
// - A receiver, for as many messages as are addressed to it in the epoch,
//   receives a header from any source with any tag, then the payload from that
//   header's source with any tag, whose size the header's message gives.
// - The payload's first word is its sender and sequence number, its last word
//   the checksum of the words before it, the words between a function of the
//   sender, sequence number and position.
//
// Why it cannot deadlock, even if MPI buffered nothing (every send rendezvous):
// receivers only receive and senders only send; a wildcard receive is posted
// only after the payload of the previous header has been received, so (MPI's
// non-overtaking rule) the oldest pending message from every sender is a header
// and any of them matches; a payload receive names a sender whose very next
// send is that payload; and a receiver posts exactly as many receives as there
// are messages addressed to it, so a blocked send always has a receive coming.
// The barrier keeps epochs apart: a receiver has taken all of its epoch's
// messages before anyone passes it, so no wildcard receive can match the next
// epoch's messages, whose senders may be this epoch's receivers.
//
// At one rank, every message goes to self through sendrecv (MPI_Sendrecv is
// safe with itself; a blocking send to self is not), with the same wildcard
// receives and checks.
import MPI
import MPITestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class MessageStressTests: MPITestCase {
    /// The number of messages (payloads, each after its header) of the test, over all ranks:
    /// 20,000, or `SWIFT_MPI_TEST_STRESS_MESSAGES` (100,000 for the full run).
    static var messageCount: Int {
        environment("SWIFT_MPI_TEST_STRESS_MESSAGES").flatMap(Int.init).map { Swift.max(1, $0) } ?? 20_000
    }

    /// The seed that every rank gives the shared generator.
    static let seed: UInt64 = 0x5EED_0013_0009

    func testManyMessagesOfRandomSizesAndTagsFromAnySource() throws {
        let comm = try defaultComm.duplicate()  // no other test's message can match a wildcard here
        var plan = MessagePlan(size: size, seed: Self.seed, tagLimit: Swift.min(MPIRuntime.tagUpperBound, 32_767))
        var checker = MessageChecker(rank: rank)
        var sent = 0, expected = 0, largest = 0, aboveEager = 0
        let start = monotonicSeconds()
        let messageCount = Self.messageCount
        var remaining = messageCount
        while remaining > 0 {
            let epoch = plan.nextEpoch(limit: remaining)
            remaining -= epoch.count
            for message in epoch {
                largest = Swift.max(largest, message.count)
                if message.count * 8 > 4096 { aboveEager += 1 }
            }
            if size == 1 {
                for message in epoch { try exchangeWithSelf(message, comm: comm, checker: &checker) }
                sent += epoch.count
                expected += epoch.count
            } else {
                for message in epoch where message.sender == rank {
                    try sendMessage(message, comm: comm)
                    sent += 1
                }
                let incoming = epoch.filter { $0.dest == rank }
                expected += incoming.count
                if !incoming.isEmpty { try receiveAll(incoming, comm: comm, checker: &checker) }
            }
            try barrier(comm: comm)
        }
        let seconds = monotonicSeconds() - start
        XCTAssertEqual(checker.received, expected, "messages received \(here)")
        XCTAssertEqual(checker.failures.count, 0, "\(here) \(checker.failures.count) failed checks, the first: "
                       + checker.failures.prefix(5).joined(separator: "; "))
        let (totals, _) = try allreduce([sent, checker.received, checker.bytes], op: .sum, comm: comm)
        XCTAssertEqual(totals[0], messageCount, "messages sent by all ranks")
        XCTAssertEqual(totals[1], messageCount, "messages received by all ranks")
        if rank == 0 {
            print("MessageStressTests: \(messageCount) messages (\(totals[2] >> 20) MiB, \(aboveEager) above 4 KiB, "
                  + "largest \(largest * 8) bytes) at \(size) ranks in \(String(format: "%.1f", seconds)) s")
        }
    }

    func testTheChecksCatchEveryKindOfDamage() {
        // The checks themselves, without communication: a message as sent passes, and each kind of
        // damage (a word, the header, the status) is reported.
        let message = PlannedMessage(sender: 1, seq: 42, dest: 0, count: 300, headerTag: 5, payloadTag: 6, form: .into)
        let (payload, checksum) = makePayload(message)
        let header = ShapedArray(message.header(checksum: checksum))
        func status(_ source: Int, _ tag: Int, _ count: Int) -> Status {
            let s = Status()
            s.source = source
            s.tag = tag
            s.count = count
            return s
        }
        func failures(header: ShapedArray<UInt64> = header, payload: ShapedArray<UInt64> = payload,
                      headerStatus: Status = status(1, 5, 6), payloadStatus: Status = status(1, 6, 300)) -> Int {
            var checker = MessageChecker(rank: 0)
            checker.check(message, headerStatus: headerStatus, header: header, payloadStatus: payloadStatus,
                          payload: payload)
            return checker.failures.count
        }
        XCTAssertEqual(failures(), 0, "an undamaged message")
        for index in [0, 1, 150, 298, 299] {
            var damaged = payload
            damaged[flat: index] ^= 1 << 17
            XCTAssertGreaterThan(failures(payload: damaged), 0, "word \(index) damaged")
        }
        var swapped = payload
        swapped[flat: 10] = payload[flat: 11]
        swapped[flat: 11] = payload[flat: 10]
        XCTAssertGreaterThan(failures(payload: swapped), 0, "two words swapped")
        for index in 0..<MessagePlan.headerCount {
            var damaged = header
            damaged[flat: index] &+= 1
            XCTAssertGreaterThan(failures(header: damaged), 0, "header word \(index) damaged")
        }
        XCTAssertGreaterThan(failures(headerStatus: status(2, 5, 6)), 0, "header from another source")
        XCTAssertGreaterThan(failures(headerStatus: status(1, 7, 6)), 0, "header with another tag")
        XCTAssertGreaterThan(failures(payloadStatus: status(1, 6, 299)), 0, "payload of another count")
        XCTAssertGreaterThan(failures(payloadStatus: status(1, 8, 300)), 0, "payload with another tag")
        XCTAssertGreaterThan(failures(payload: ShapedArray(repeating: 0, shape: [299])), 0, "a short payload")
        // Messages of 0, 1 and 2 words pass too.
        for count in 0...2 {
            let small = PlannedMessage(sender: 3, seq: 7, dest: 0, count: count, headerTag: 1, payloadTag: 2, form: .result)
            let (words, sum) = makePayload(small)
            var checker = MessageChecker(rank: 0)
            checker.check(small, headerStatus: status(3, 1, 6), header: ShapedArray(small.header(checksum: sum)),
                          payloadStatus: status(3, 2, count), payload: words)
            XCTAssertEqual(checker.failures, [], "a message of \(count) words")
        }
    }

    // MARK: The protocol

    /// Sends a message's header, then its payload, in the forms the plan gives.
    private func sendMessage(_ message: PlannedMessage, comm: Communicator) throws {
        let (payload, checksum) = makePayload(message)
        let header = message.header(checksum: checksum)
        if message.seq % 2 == 0 {
            try send(header, dest: message.dest, tag: message.headerTag, comm: comm)
        } else {
            try send(ShapedArray(header), dest: message.dest, tag: message.headerTag, comm: comm)
        }
        if message.form.sendsArray {
            try send(payload.scalars, dest: message.dest, tag: message.payloadTag, comm: comm)
        } else {
            try send(payload, dest: message.dest, tag: message.payloadTag, comm: comm)
        }
    }

    /// Receives the epoch's messages addressed to this rank: headers from any source with any tag, then
    /// each payload from its header's source with any tag.
    private func receiveAll(_ incoming: [PlannedMessage], comm: Communicator, checker: inout MessageChecker) throws {
        var queues = [[PlannedMessage]](repeating: [], count: size)  // per sender, in send order
        for message in incoming { queues[message.sender].append(message) }
        var headerBuffer = ShapedArray(repeating: UInt64(0), shape: [MessagePlan.headerCount])
        let headerTemplate = ShapedArray(repeating: UInt64(0), shape: [MessagePlan.headerCount])
        for index in 0..<incoming.count {
            let headerStatus = Status()
            let header: ShapedArray<UInt64>
            if index % 2 == 0 {
                header = try recv(headerTemplate, source: anySource, tag: anyTag, comm: comm, status: headerStatus).0
            } else {
                try recv(into: &headerBuffer, source: anySource, tag: anyTag, comm: comm, status: headerStatus)
                header = headerBuffer
            }
            let source = headerStatus.source
            guard (0..<size).contains(source), !queues[source].isEmpty else {
                // The protocol is broken: which payload comes next is unknown.
                throw MPIError.invalidArgument(operation: "MessageStressTests", argument: "status.source",
                                               expected: "a rank with messages still to come to rank \(rank)",
                                               actual: "\(headerStatus)")
            }
            let message = queues[source].removeFirst()
            let payloadStatus = Status()
            let payload = try receivePayload(message, comm: comm, status: payloadStatus) { template, status in
                try recv(template, source: source, tag: anyTag, comm: comm, status: status).0
            } into: { (output: inout ShapedArray<UInt64>, status) in
                try recv(into: &output, source: source, tag: anyTag, comm: comm, status: status)
            } intoArray: { (output: inout [UInt64], status) in
                try recv(into: &output, source: source, tag: anyTag, comm: comm, status: status)
            }
            checker.check(message, headerStatus: headerStatus, header: header, payloadStatus: payloadStatus,
                          payload: payload)
        }
    }

    /// One rank: the header and the payload each go to self through one sendrecv, received from any
    /// source with any tag.
    private func exchangeWithSelf(_ message: PlannedMessage, comm: Communicator, checker: inout MessageChecker) throws {
        let (payload, checksum) = makePayload(message)
        let headerStatus = Status()
        let header = try sendrecv(ShapedArray(message.header(checksum: checksum)),
                                  ShapedArray(repeating: UInt64(0), shape: [MessagePlan.headerCount]),
                                  source: anySource, dest: 0, sendtag: message.headerTag, recvtag: anyTag,
                                  comm: comm, status: headerStatus).0
        let payloadStatus = Status()
        let received = try receivePayload(message, comm: comm, status: payloadStatus) { template, status in
            try sendrecv(payload, template, source: anySource, dest: 0, sendtag: message.payloadTag, recvtag: anyTag,
                         comm: comm, status: status).0
        } into: { (output: inout ShapedArray<UInt64>, status) in
            try sendrecv(payload, into: &output, source: anySource, dest: 0, sendtag: message.payloadTag,
                         recvtag: anyTag, comm: comm, status: status)
        } intoArray: { (output: inout [UInt64], status) in
            try sendrecv(payload, into: &output, source: anySource, dest: 0, sendtag: message.payloadTag,
                         recvtag: anyTag, comm: comm, status: status)
        }
        checker.check(message, headerStatus: headerStatus, header: header, payloadStatus: payloadStatus,
                      payload: received)
    }

    /// Receives a payload in the form the plan gives: a result from a template, or into a
    /// `ShapedArray` or an `[UInt64]` of the message's size.
    private func receivePayload(
        _ message: PlannedMessage, comm: Communicator, status: Status,
        result: (ShapedArray<UInt64>, Status) throws -> ShapedArray<UInt64>,
        into: (inout ShapedArray<UInt64>, Status) throws -> Void,
        intoArray: (inout [UInt64], Status) throws -> Void
    ) throws -> ShapedArray<UInt64> {
        switch message.form {
        case .result, .resultFromArray:
            return try result(ShapedArray(repeating: 0, shape: [message.count]), status)
        case .into:
            var output = ShapedArray(repeating: UInt64(0xDEAD), shape: [message.count])
            try into(&output, status)
            return output
        case .intoArray:
            var output = [UInt64](repeating: 0xDEAD, count: message.count)
            try intoArray(&output, status)
            return ShapedArray(output)
        }
    }
}

// MARK: - The plan

/// A SplitMix64 generator: every rank seeds it alike and draws the same plan.
struct SharedGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix64(state)
    }
}

/// SplitMix64's finaliser: a bijective mix of 64 bits.
@inline(__always)
func mix64(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// How a message is sent and its payload received.
enum PayloadForm: CaseIterable {
    /// Sent as a `ShapedArray`, received as a result from a template.
    case result
    /// Sent as a `[UInt64]`, received as a result from a template.
    case resultFromArray
    /// Sent as a `ShapedArray`, received `into:` a `ShapedArray`.
    case into
    /// Sent as a `[UInt64]`, received `into:` an `[UInt64]`.
    case intoArray

    var sendsArray: Bool { self == .resultFromArray || self == .intoArray }
}

/// One message of the plan.
struct PlannedMessage {
    let sender: Int
    /// The sender's sequence number, counting from 0 over the whole test.
    let seq: Int
    let dest: Int
    /// Elements of UInt64.
    let count: Int
    let headerTag: Int
    let payloadTag: Int
    let form: PayloadForm

    /// The payload's first word: sender and sequence number.
    var identity: UInt64 { UInt64(sender) << 40 | UInt64(seq) }

    func header(checksum: UInt64) -> [UInt64] {
        [MessagePlan.magic, UInt64(sender), UInt64(seq), UInt64(count), UInt64(payloadTag), checksum]
    }
}

/// The messages of the test, epoch by epoch, drawn from the shared generator.
struct MessagePlan {
    static let headerCount = 6
    static let magic: UInt64 = 0x4D50_4953_5452_4553  // "MPISTRES"
    /// The most messages one sender sends in an epoch.
    static let maximumPerSender = 64

    let size: Int
    let tagLimit: Int
    var generator: SharedGenerator
    var nextSeq: [Int]

    init(size: Int, seed: UInt64, tagLimit: Int) {
        self.size = size
        self.tagLimit = tagLimit
        self.generator = SharedGenerator(state: seed)
        self.nextSeq = [Int](repeating: 0, count: size)
    }

    /// A random size: 5% empty, 55% up to 2 KiB, 28% up to 16 KiB, 10% up to 64 KiB, 2% up to 256 KiB.
    mutating func drawCount() -> Int {
        let bucket = Int.random(in: 0..<100, using: &generator)
        switch bucket {
        case 0..<5: return 0
        case 5..<60: return Int.random(in: 1...256, using: &generator)
        case 60..<88: return Int.random(in: 257...2048, using: &generator)
        case 88..<98: return Int.random(in: 2049...8192, using: &generator)
        default: return Int.random(in: 8193...32_768, using: &generator)
        }
    }

    /// The next epoch's messages, at most `limit`, in the order each sender sends them.
    mutating func nextEpoch(limit: Int) -> [PlannedMessage] {
        var isSender = [Bool](repeating: true, count: size)
        if size > 1 {
            for r in 0..<size { isSender[r] = Bool.random(using: &generator) }
            if !isSender.contains(true) || !isSender.contains(false) {
                let flipped = Int.random(in: 0..<size, using: &generator)
                isSender[flipped].toggle()
            }
        }
        let receivers = size == 1 ? [0] : (0..<size).filter { !isSender[$0] }
        var messages: [PlannedMessage] = []
        for sender in 0..<size where isSender[sender] {
            for _ in 0..<Int.random(in: 1...Self.maximumPerSender, using: &generator) where messages.count < limit {
                let message = PlannedMessage(
                    sender: sender, seq: nextSeq[sender],
                    dest: receivers[Int.random(in: 0..<receivers.count, using: &generator)],
                    count: drawCount(),
                    headerTag: Int.random(in: 0...tagLimit, using: &generator),
                    payloadTag: Int.random(in: 0...tagLimit, using: &generator),
                    form: PayloadForm.allCases[Int.random(in: 0..<PayloadForm.allCases.count, using: &generator)])
                nextSeq[sender] += 1
                messages.append(message)
            }
        }
        return messages
    }
}

// MARK: - Payloads and checks

/// The checksum of words: FNV-1a over 64-bit words. (Written out in the loops below: the test
/// target is built without optimisation, where every call per word costs.)
let checksumBasis: UInt64 = 0xCBF2_9CE4_8422_2325
let checksumPrime: UInt64 = 0x0000_0100_0000_01B3

/// Word `i` of a payload, between the first and the last: a function of the identity and `i`.
@inline(__always)
func payloadWord(_ identity: UInt64, _ i: Int) -> UInt64 {
    (identity &+ UInt64(i)) &* 0x9E37_79B9_7F4A_7C15
}

/// The checksum of a whole payload, from the checksum of its words but the last and its last word.
@inline(__always)
func wholeChecksum(prefix: UInt64, last: UInt64) -> UInt64 {
    (prefix ^ (last << 1 | last >> 63)) &* checksumPrime
}

/// A message's payload and the checksum of all its words (for its header).
///
/// Word 0 is the identity (sender, sequence number), the last word (from 2 words) the checksum of
/// the words before it, the others `payloadWord(identity, position)`.
func makePayload(_ message: PlannedMessage) -> (ShapedArray<UInt64>, UInt64) {
    let count = message.count
    let identity = message.identity
    var whole = checksumBasis
    let payload = ShapedArray<UInt64>(shape: [count]) { (buffer: UnsafeMutableBufferPointer<UInt64>) in
        guard count > 0, let words = buffer.baseAddress else { return }
        words[0] = identity
        var h = checksumBasis
        var i = 0
        while i < count - 1 {
            if i > 0 { words[i] = (identity &+ UInt64(i)) &* 0x9E37_79B9_7F4A_7C15 }
            h = (h ^ words[i]) &* checksumPrime
            i += 1
        }
        if count > 1 { words[count - 1] = h }
        whole = wholeChecksum(prefix: h, last: words[count - 1])
    }
    return (payload, whole)
}

/// Checks received messages against the plan, and keeps the first failures.
struct MessageChecker {
    let rank: Int
    var received = 0
    var bytes = 0
    var failures: [String] = []

    init(rank: Int) { self.rank = rank }

    private mutating func fail(_ message: PlannedMessage, _ what: String) {
        if failures.count < 100 {
            failures.append("message \(message.seq) of rank \(message.sender) to rank \(rank): \(what)")
        } else {
            failures.append("")
        }
    }

    mutating func check(_ message: PlannedMessage, headerStatus: Status, header: ShapedArray<UInt64>,
                        payloadStatus: Status, payload: ShapedArray<UInt64>) {
        received += 1
        bytes += message.count * 8
        if headerStatus.source != message.sender || headerStatus.tag != message.headerTag
            || headerStatus.count != MessagePlan.headerCount {
            fail(message, "header status \(headerStatus), expected source \(message.sender) tag \(message.headerTag)")
        }
        if payloadStatus.source != message.sender || payloadStatus.tag != message.payloadTag
            || payloadStatus.count != message.count {
            fail(message, "payload status \(payloadStatus), expected source \(message.sender) tag "
                 + "\(message.payloadTag) count \(message.count)")
        }
        let words = header.scalars
        let expectedHeader = Array(message.header(checksum: 0).prefix(5))
        if words.count != MessagePlan.headerCount || Array(words.prefix(5)) != expectedHeader {
            fail(message, "header \(words), expected \(expectedHeader) + checksum")
        }
        guard payload.scalarCount == message.count else {
            fail(message, "payload of \(payload.scalarCount) elements, expected \(message.count)")
            return
        }
        let count = message.count
        let identity = message.identity
        // One pass: the checksum of all words but the last, then of all.
        var prefix = checksumBasis
        var whole = checksumBasis
        var first: UInt64 = 0, last: UInt64 = 0, middle: UInt64 = 0
        payload.withUnsafeBufferPointer { buffer in
            guard count > 0, let words = buffer.baseAddress else { return }
            var h = checksumBasis
            var i = 0
            while i < count - 1 {
                h = (h ^ words[i]) &* checksumPrime
                i += 1
            }
            prefix = h
            first = words[0]
            last = words[count - 1]
            middle = words[count / 2]
            whole = wholeChecksum(prefix: h, last: last)
        }
        if words.count == MessagePlan.headerCount && whole != words[5] {
            fail(message, "payload checksum \(whole), header says \(words[5])")
        }
        if count >= 1 && first != identity {
            fail(message, "first word \(first), expected sender and sequence number \(identity)")
        }
        if count >= 2 && last != prefix {
            fail(message, "last word \(last), expected the checksum \(prefix) of the words before it")
        }
        if count >= 3 && middle != payloadWord(identity, count / 2) {
            fail(message, "word \(count / 2) is \(middle), expected \(payloadWord(identity, count / 2))")
        }
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
